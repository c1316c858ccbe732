"""Scoring one answer: is it right, does it keep the source's direction words, does its citation hold the gold quote.

Every comparison is made on `match_form` (widths folded, Chinese numerals as digits, no whitespace).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from assistant.ingest.clean import chinese_numerals_to_digits, normalise_text
from assistant.models import DIRECTION_WORDS


class Cited(Protocol):
    doc: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class Span:
    """A retrieved passage located in a source document."""

    doc: str
    start: int
    end: int
    text: str


def match_form(text: str) -> str:
    """Both sides of a comparison: widths folded, Chinese numerals as digits, no whitespace."""
    return "".join(normalise_text(chinese_numerals_to_digits(text)).split())


def should_abstain(question: dict) -> bool:
    """Unanswerable in the loaded plans: the plan does not say it, or no loaded plan covers the region."""
    return bool(question.get("abstain")) or question["category"] in ("unanswerable", "uncovered_region")


def is_correct(question: dict, answer: str, abstained: bool) -> bool:
    """Right = abstains on an unanswerable question; otherwise answers with every gold string."""
    if should_abstain(question):
        return abstained
    if abstained:
        return False
    got = match_form(answer)
    if not all(match_form(s) in got for s in question["must_include"]):
        return False
    if not figures_in_own_words(question, answer):
        return False
    any_of = question.get("any_of") or []
    return not any_of or any(match_form(s) in got for s in any_of)


FIGURE_CATEGORIES = ("target", "aggregate", "conflict")  # answers that state figures: single, listed, compared
QUOTED = re.compile(r"[（(]原文[:：].*?[)）]|“[^”]*”|「[^」]*」")


def figures_in_own_words(question: dict, answer: str) -> bool:
    """A figure answer states the gold figures itself: a look-alike figure whose quoted original happens to
    hold the gold figure too ("完成老旧小区52个（原文：…24座公厕…）" for the 公厕 question) is wrong."""
    if question["category"] not in FIGURE_CATEGORIES:
        return True
    told = match_form(QUOTED.sub("", answer))
    return all(match_form(s) in told for s in question["must_include"] if re.search(r"\d", s))


def direction_kept(question: dict, answer: str, abstained: bool) -> bool | None:
    """An answered target (alone, in a list, or set against another) keeps the direction words its source states next to the gold figure
    (下降/提高/以上/力争 …), in the answer's own words, not only inside the quoted original.

    None when not measured: not a target, abstained, or the source states no direction by the figure.
    """
    if abstained or should_abstain(question) or question["category"] not in FIGURE_CATEGORIES:
        return None
    stated = stated_directions(question)
    if not stated:
        return None
    told = match_form(QUOTED.sub("", answer))
    return all(word in told for word in stated)


def stated_directions(question: dict) -> set[str]:
    """The direction words of the gold sentence within a few characters of a gold figure."""
    quotes = question.get("source_quote") or []
    figures = [match_form(f) for f in question["must_include"] if re.search(r"\d", f)]
    stated = set()
    for quote in [quotes] if isinstance(quotes, str) else quotes:
        text = match_form(quote)
        for figure in figures:
            for found in re.finditer(re.escape(figure), text):
                before = re.split(r"[,，;；。]", text[max(0, found.start() - 8) : found.start()])[-1]
                window = before + text[found.start() : found.end() + 2]  # the figure's own clause part
                stated |= {w for w in DIRECTION_WORDS if w in window}
    return stated


def locate(quote: str, texts: dict[str, str]) -> list[tuple[str, int, int]]:
    """Every occurrence of a verbatim quote in the corpus: (doc, start, end)."""
    found = []
    for doc, text in texts.items():
        start = text.find(quote) if quote else -1
        while start >= 0:
            found.append((doc, start, start + len(quote)))
            start = text.find(quote, start + 1)
    return found


def gold_spans(question: dict, texts: dict[str, str]) -> list[tuple[str, int, int]]:
    """Where the question's gold quote (or each of its quotes) stands in the corpus."""
    quotes = question.get("source_quote") or []
    return [span for quote in ([quotes] if isinstance(quotes, str) else quotes) for span in locate(quote, texts)]


def contains(span: Span | Cited, gold: Iterable[tuple[str, int, int]]) -> bool:
    return any(span.doc == doc and span.start <= start and end <= span.end for doc, start, end in gold)


def contains_any(citations: Sequence[Cited], gold: list[tuple[str, int, int]]) -> bool:
    return any(contains(c, gold) for c in citations)


def is_verbatim(citation: Cited, texts: dict[str, str]) -> bool:
    text = texts.get(citation.doc)
    return text is not None and citation.quote == text[citation.start : citation.end]


def cited_doc(citation: Cited) -> str:
    return Path(citation.doc).stem


def first_rank(spans: Sequence[Span], gold: list[tuple[str, int, int]]) -> int | None:
    """1-based rank of the first retrieved span that contains the gold quote."""
    return next((rank for rank, span in enumerate(spans, 1) if contains(span, gold)), None)


def share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def rate(rows: list[dict], key: str) -> float | None:
    """Share of rows where `key` is true, among rows where it was measured (not None)."""
    measured = [r[key] for r in rows if r[key] is not None]
    return share(sum(bool(v) for v in measured), len(measured))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def error_rates(rows: list[dict]) -> dict:
    """The two ways a scored answer fails (issue 21): a false abstention (answerable, but abstained), counted
    over the answerable questions, and a wrong answer (answered, but wrong), counted over the answered ones."""
    answerable = [r for r in rows if not r["should_abstain"]]
    answered = [r for r in rows if not r["abstained"]]
    false_abstentions = sum(1 for r in answerable if r["abstained"])
    wrong_answers = sum(1 for r in answered if not r["correct"])
    return {
        "answerable": len(answerable),
        "false_abstentions": false_abstentions,
        "false_abstention_rate": share(false_abstentions, len(answerable)),
        "answered": len(answered),
        "wrong_answers": wrong_answers,
        "wrong_answer_rate": share(wrong_answers, len(answered)),
    }
