"""Deadlines: the dated commitments of a clause ("到2025年,…", "2030年前", "每年3月底前", "“十四五”期间")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.facts.sentences import Sentence, split_sentences
from assistant.lang.periods import PLAN_PERIOD, five_year_plan_years
from assistant.models import Clause


@dataclass(frozen=True)
class Deadline:
    """A dated commitment: "到2025年,基本淘汰国三及以下排放标准汽车" → 2025."""

    clause_id: str
    year: int | None  # None for a recurring or relative time limit ("每年3月底前", "30日内")
    phrase: str  # "到2025年", "2030年前", "“十四五”期间", "2022年起", "每年3月31日前", "15个工作日内"
    text: str  # from the time phrase to the end of its sentence
    start: int
    end: int
    kind: str = "by"  # by (due by) / from (starting) / period (a five-year plan) / annual / within (a span)
    period: str | None = None  # "2021-2025" for “十四五”期间


CN_COUNT = "零〇一二两三四五六七八九十百"
NUMBER = rf"(?:\d+|[{CN_COUNT}]+)"
DEADLINE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("annual", re.compile(r"每年(?:\d{1,2}月)(?:\d{1,2}日)?(?:底|末)?(?:前|之前|以前)")),
    ("from", re.compile(r"(?:自|从)?(\d{4})年(?:\d{1,2}月)?(?:起|开始)")),
    ("by", re.compile(r"(?:到|至|截至)(\d{4})年(?:\d{1,2}月)?(?:底|末)?(?:前)?|(\d{4})年(?:\d{1,2}月)?(?:\d{1,2}日)?(?:底|末)?(?:前|以前|之前)|(\d{4})年(?:底|末)")),
    ("within", re.compile(rf"{NUMBER}(?:个)?(?:工作日|日|天|个月|月|年)(?:以内|之内|内)")),
    ("period", PLAN_PERIOD),
)



def extract_deadlines(clause: Clause) -> list[Deadline]:
    deadlines = []
    for sentence in split_sentences(clause):
        taken: list[tuple[int, int]] = []
        for kind, pattern in DEADLINE_FORMS:
            for match in pattern.finditer(sentence.text):
                if any(a < match.end() and match.start() < b for a, b in taken) or _in_title(sentence.text, match.start()):
                    continue  # "2030年前" is already read ("30年内" of it is not another); 《2030年前…方案》 is a name
                taken.append(match.span())
                deadlines.append(_deadline(clause, sentence, kind, match))
    return sorted(deadlines, key=lambda d: d.start)


def _in_title(text: str, pos: int) -> bool:
    return text.count("《", 0, pos) > text.count("》", 0, pos)


def _deadline(clause: Clause, sentence: Sentence, kind: str, match: re.Match[str]) -> Deadline:
    year = next((int(g) for g in match.groups() if g and g.isdigit()), None)
    period = None
    if kind == "period":
        first, year = five_year_plan_years(match.group(1))
        period = f"{first}-{year}"
    begin = sentence.start + match.start()
    start, end = clause.original_span(begin, sentence.end)
    return Deadline(clause.id, year, match.group(), clause.text[begin : sentence.end], start, end, kind, period)
