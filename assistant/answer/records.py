"""Dated and front-matter questions: deadlines, chronicle entries, the document's own fields."""

from __future__ import annotations

import re

from assistant.answer.drafts import EVENT_MATCH, FACT_MATCH, STRUCTURE, Abstain, Draft, Source
from assistant.answer.evidence import Evidence
from assistant.answer.question import Question
from assistant.answer.text import coverage, numbers_agree
from assistant.facts.knowledge import PLAN_KINDS
from assistant.lang.periods import MONTH_DAY
from assistant.models import Clause, PlanIdentity

META_FIELDS = [  # the fields facts.extract_meta reads, and how users ask for each
    ("文号", re.compile(r"文号|发文字号|字号")),
    ("发文机关", re.compile(r"(哪个|哪些|什么|几个)(单位|部门|机关).{0,4}(印发|发布|发的)|发布单位|发文单位")),
    ("印发日期", re.compile(r"印发|发文.{0,2}(日期|时间)|哪天发|成文|落款日期|颁布时间|(哪天|哪一天|何时).{0,4}(发布|颁布)")),
    ("总期号", re.compile(r"总第|总期")),
    ("期号", re.compile(r"期号|第几期|哪一期")),
    ("副总编辑", re.compile(r"副总编辑")),
    ("总编辑", re.compile(r"(?<!副)总编辑")),
    ("责任编辑", re.compile(r"责任编辑")),
    ("编委", re.compile(r"编委")),
    ("主任", re.compile(r"主任")),
    ("主送机关", re.compile(r"主送|发给|下发给|印发给")),
    ("发文机关", re.compile(r"发文机关|哪个单位发|谁发")),
    ("出版日期", re.compile(r"公报.{0,4}(日期|时间|哪天)|出版")),
    ("编印单位", re.compile(r"编印|主办|哪个单位编|出版单位")),
    ("方案名称", re.compile(r"方案名称|全称|叫什么")),
]
TAKES_EFFECT = re.compile(r"施行|生效|起实施")  # when the plan itself applies: a sentence, not a deadline
# Fields a plan's identity holds (PlanIdentity attributes): read from its own text, not a plan it cites.
IDENTITY_FIELDS = {"文号": "doc_number", "印发日期": "date", "发文机关": "issuer"}
MIN_MATCH = 0.5
DEADLINE_CLAUSES = 8
EVENT_CLAUSES = 10
DATE = re.compile(MONTH_DAY)
MONTH = re.compile(r"(?<!\d)(\d{1,2})月(?!\d)")
MONTH_RANGE = re.compile(r"(?<!\d)(\d{1,2})\s*月?\s*(?:到|至|-|—|~|～)\s*(\d{1,2})\s*月")
YEAR_ASKED = re.compile(r"(20\d\d)\s*年")
# "开了几次常务会议", "主持了哪几场会", "各是哪天": the entries are counted and listed, not one chosen.
ASKS_EVENTS = re.compile(r"几次|几场|多少次|多少场|哪几次|哪几场|哪几个会|哪些会|各是哪天|各在哪天|分别在哪天|一共.{0,6}(?:会|活动)")
# The kind of entry counted, named right after the count: "开了几次常务会议" → 常务会议.
COUNTED_KIND = re.compile(r"(?:几次|几场|多少次|多少场|哪几次|哪几场)(?:的)?([\u4e00-\u9fff]{2,6}?)(?:[？?，,。；;]|$)")
KIND_NAMED_MATCH = 0.5
LIST_MATCH = 0.8  # share of the question's words found in the chronicle that a listed entry must hold
EVENT_QUESTION_WORDS = r"\d{1,2}月\d{1,2}[日号]|\d{1,2}月[底初中]?|谁|主持|哪天|什么|[省市县区乡镇]长|开展|活动|哪位|哪些|参加"


def answer_deadline(question: Question, evidence: Evidence) -> Draft | Abstain | None:
    grams = question.grams_without(r"什么时候|何时|哪一年|哪年|完成|实现|时间")
    rank_of = evidence.rank_of(PLAN_KINDS, DEADLINE_CLAUSES)
    best = None
    for deadline in evidence.knowledge.deadlines:
        if deadline.clause_id not in rank_of:
            continue
        # The part right after the year phrase says what is due; score that part most.
        parts = [p for p in re.split(r"[,，、]", deadline.text) if p]
        score = max((coverage(grams, p) for p in parts), default=0.0) * 0.7 + coverage(grams, deadline.text) * 0.3
        score += 0.1 / (1 + rank_of[deadline.clause_id])
        if best is None or score > best[0]:
            best = (score, deadline)
    if best is None or best[0] < MIN_MATCH:
        return None if TAKES_EFFECT.search(question.text) else Abstain("完成时间")
    score, deadline = best
    clause = evidence.knowledge.clause(deadline.clause_id)
    return Draft(f"{deadline.phrase}（原文：{deadline.text}）", (Source(clause, deadline.start, deadline.end),), FACT_MATCH, score)


def answer_chronicle(question: Question, evidence: Evidence) -> Draft | Abstain | None:
    date = DATE.search(question.text)
    entries = [c for c in evidence.knowledge.clauses if c.kind == "event"]
    if not entries:
        return None  # no chronicle in these plans: "经市政府第几次常务会议审议" is a sentence of the plan
    chronicle = [c for c in entries if c.date]
    if uncovered := _outside_chronicle(question.text, chronicle):
        return Abstain(uncovered)
    if ASKS_EVENTS.search(question.text):
        return answer_event_list(question, _in_period(question.text, chronicle))
    events = _events_asked(question, entries)
    if not events:
        return Abstain(f"{date.group()}的相关记载" if date else "相关记载")
    grams = question.grams_without(EVENT_QUESTION_WORDS)
    ranked = evidence.rank_of(("event",), EVENT_CLAUSES)
    best = max(events, key=lambda c: coverage(grams, c.text) + (0.2 / (1 + ranked[c.id]) if c.id in ranked else 0))
    score = coverage(grams, best.text)
    only_one_that_day = bool(date) and len(events) == 1
    # A date leaves a few entries: the one that alone holds some of the question's words is the one asked.
    singled_out = bool(date) and score >= MIN_MATCH / 2 and all(
        coverage(grams, c.text) < score / 2 for c in events if c is not best
    )
    if (score < MIN_MATCH and not (only_one_that_day or singled_out)) or not numbers_agree(question.text, best.text):
        return Abstain("相关记载", Source(best))
    text = f"{best.date}：{best.text}" if best.date else best.text
    return Draft(text, (Source(best),), EVENT_MATCH, score)


def _outside_chronicle(text: str, chronicle: list[Clause]) -> str:
    """What the question asks for that the chronicle does not cover (a year, a month), naming what it does."""
    if not chronicle:
        return ""
    months = sorted({c.date[:7] for c in chronicle if c.date})
    covered = f"（大事记仅涵盖{_month_label(months[0])}至{_month_label(months[-1])}）"
    years = {m[:4] for m in months}
    asked_years = set(YEAR_ASKED.findall(text))
    if asked_years and not asked_years & years:
        return f"{'、'.join(sorted(asked_years))}年的相关记载{covered}"
    asked_months = _months_asked(text)
    if asked_months and not any(m[5:7] in asked_months for m in months):
        return f"{'、'.join(str(int(m)) + '月' for m in sorted(asked_months))}的相关记载{covered}"
    return ""


def _month_label(month: str) -> str:
    return f"{month[:4]}年{int(month[5:7])}月"


def _months_asked(text: str) -> set[str]:
    """"4到6月" → 04, 05, 06; "7月份" → 07; a date "4月12日" → 04."""
    if span := MONTH_RANGE.search(text):
        first, last = int(span.group(1)), int(span.group(2))
        return {f"{m:02d}" for m in range(first, last + 1)} if 1 <= first <= last <= 12 else set()
    found = [int(m.group(1)) for m in MONTH.finditer(text)] + [int(d.group(1)) for d in DATE.finditer(text)]
    return {f"{m:02d}" for m in found if 1 <= m <= 12}


def _in_period(text: str, chronicle: list[Clause]) -> list[Clause]:
    months = _months_asked(text)
    return [c for c in chronicle if not months or (c.date and c.date[5:7] in months)]


def answer_event_list(question: Question, events: list[Clause]) -> Draft | Abstain:
    """Every chronicle entry of the period that holds what the question names, counted and each cited."""
    words = question.grams_without(EVENT_QUESTION_WORDS + r"|" + ASKS_EVENTS.pattern + r"|大事记|一共|总共|共")
    found = {g for g in words if any(g in c.text for c in events)}
    if not found:
        return Abstain("相关记载")
    kind = COUNTED_KIND.search(question.text)
    share = KIND_NAMED_MATCH if kind else LIST_MATCH  # the kind named carries most of the question
    listed = [
        c for c in events
        if sum(g in c.text for g in found) >= share * len(found) and (not kind or kind.group(1) in c.text)
    ]
    if not listed:
        return Abstain("相关记载")
    lines = [f"{int(c.date[5:7])}月{int(c.date[8:10])}日：{c.text}" for c in listed if c.date]
    return Draft(f"共{len(listed)}次：" + "；".join(lines), tuple(Source(c) for c in listed), STRUCTURE)


def _events_asked(question: Question, events: list[Clause]) -> list[Clause]:
    """The entries of the day asked ("4月12日"), or of the month ("四月底赴京招商") when there are any."""
    if date := DATE.search(question.text):
        wanted = f"-{int(date.group(1)):02d}-{int(date.group(2)):02d}"
        return [c for c in events if c.date and c.date.endswith(wanted)]
    if month := MONTH.search(question.text):
        return [c for c in events if c.date and c.date[5:7] == f"{int(month.group(1)):02d}"] or events
    return events


def answer_meta(question: Question, evidence: Evidence) -> Draft | Abstain | None:
    parts, sources = [], []
    asked = list(dict.fromkeys(field for field, pattern in META_FIELDS if pattern.search(question.text)))
    if "发文机关" in asked:
        asked = [f for f in asked if f != "印发日期"]  # "哪个单位印发的": who, not when
    plan = _one_plan_of_many(evidence)
    for field in asked:
        if plan is not None and field in IDENTITY_FIELDS:
            stated = _identity_fact(evidence, plan, field)
            if stated is None:
                return Abstain(field)  # the plan's own text does not give it (a 文号 it cites is another's)
            parts.append(f"{field}：{stated[0]}" + _how_many_bodies(question, stated[0]))
            sources.append(stated[1])
            continue
        facts = [f for f in evidence.knowledge.meta if f.field == field]
        if facts:
            parts.append(f"{field}：{' '.join(dict.fromkeys(f.value for f in facts))}")
            sources += [Source(evidence.knowledge.clause(f.clause_id)) for f in facts]
    if not parts:
        return None
    return Draft("；".join(parts) + "。", tuple(sources), STRUCTURE)


def _how_many_bodies(question: Question, issuers: str) -> str:
    """"由几个部门联合印发": the issuers counted."""
    bodies = [b for b in re.split(r"[、,，]", issuers) if b]
    return f"（共{len(bodies)}部门联合印发）" if len(bodies) > 1 and re.search(r"几个|多少个|几家", question.text) else ""


def _one_plan_of_many(evidence: Evidence) -> PlanIdentity | None:
    """With several plans loaded and the question scoped to one, that plan's identity answers for it."""
    docs = {c.doc for c in evidence.knowledge.clauses}
    if len(evidence.knowledge.documents) < 2 or len(docs) != 1:
        return None
    return evidence.knowledge.identities.get(docs.pop())


def _identity_fact(evidence: Evidence, plan: PlanIdentity, field: str) -> tuple[str, Source] | None:
    """The plan's own 文号, date or issuer (assistant/ingest/identity.py), cited where its text states it."""
    value = getattr(plan, IDENTITY_FIELDS[field])
    if not value:
        return None
    shown = value
    if field == "印发日期":
        year, month, day = value.split("-")
        shown = f"{year}年{int(month)}月{int(day)}日"
    compact = re.sub(r"\s", "", shown)
    clause = next((c for c in evidence.knowledge.clauses if compact in re.sub(r"\s", "", c.text)), None)
    return (shown, Source(clause)) if clause is not None else None
