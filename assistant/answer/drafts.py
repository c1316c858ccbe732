"""What handlers return, and the one place a draft becomes an `Answer` (intent, confidence, citations).

A handler says what it found and on what basis; how sure that makes us is decided here, by named
bases rather than numbers scattered over the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from assistant.answer.evidence import Evidence
from assistant.facts.knowledge import Knowledge, plan_title
from assistant.models import Answer, Citation, Clause

NOT_STATED = "方案中未明确"


@dataclass(frozen=True)
class Basis:
    """How an answer was found: confidence = floor + weight × how well it matched (at most 1)."""

    name: str
    floor: float
    weight: float

    def confidence(self, match: float) -> float:
        return min(1.0, self.floor + self.weight * match)


# Read off extracted facts (a unit's tasks, a year's targets, the outline): as sure as extraction.
EXACT_FACT = Basis("exact_fact", 0.9, 0.0)
# Counted from the plan's own headings, or a front-matter field read verbatim.
STRUCTURE = Basis("structure", 0.95, 0.0)
# A fact (target, deadline, task) chosen by how much of the question its own words cover.
FACT_MATCH = Basis("fact_match", 0.0, 1.0)
# A sentence chosen by word overlap alone: less sure than a matched fact.
SENTENCE_MATCH = Basis("sentence_match", 0.0, 0.8)
# A chronicle entry: half for being found among the dated entries, half for how well it covers.
EVENT_MATCH = Basis("event_match", 0.5, 0.5)
# The plan speaks of it but sets no figure of its own ("确保完成市下达指标").
STATED_WITHOUT_FIGURE = Basis("stated_without_figure", 0.6, 0.0)
NOTHING_FOUND = Basis("nothing_found", 0.0, 0.0)


@dataclass(frozen=True)
class Source:
    """What to cite: a clause, or a span of the original document inside it."""

    clause: Clause
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Draft:
    text: str
    sources: tuple[Source, ...]
    basis: Basis
    match: float = 1.0


@dataclass(frozen=True)
class Abstain:
    """The plan does not state `what`; `pointer` is the nearest clause (default: the top retrieved one).

    With `stated`, the plan speaks of it in words but sets no figure: those words are quoted.
    """

    what: str = ""
    pointer: Source | None = None
    stated: str = ""


class Pass:
    """A handler's "not mine after all": the next matching route is tried (no section named, say)."""


PASS = Pass()


def compose(raw: str, intent: str, outcome: Draft | Abstain, evidence: Evidence, label: bool = False) -> Answer:
    """Stamp the intent and the confidence of the basis; cite each source as a verbatim slice.

    With `label` (more than one plan loaded) an answer from one plan says which plan it is from.
    """
    knowledge = evidence.knowledge
    if isinstance(outcome, Draft):
        citations = _citations(knowledge, outcome.sources)
        text = outcome.text
        plans = list(dict.fromkeys(c.plan for c in citations))
        if label and len(plans) == 1 and not text.startswith(plans[0]):
            text = f"{plans[0]} › {citations[0].section or '正文'}：{text}"
        return Answer(raw, text, intent, outcome.basis.confidence(outcome.match), False, citations)
    if outcome.stated:
        text = f"{NOT_STATED}{outcome.what}：方案表述为“{outcome.stated}”。"
        citations = _citations(knowledge, (outcome.pointer,) if outcome.pointer else ())
        return Answer(raw, text, intent, STATED_WITHOUT_FIGURE.confidence(1.0), True, citations)
    nearest = evidence.nearest if outcome.pointer is None else None  # retrieved only when needed
    pointer = outcome.pointer or (Source(nearest) if nearest else None)
    text = f"{NOT_STATED}{outcome.what}。"
    if pointer is not None:
        where = pointer.clause.section or pointer.clause.title
        if label:
            where = f"{plan_title(knowledge, pointer.clause.doc)} › {where}"
        text += f"最相关的条款是「{where}」，供参考。"
    citations = _citations(knowledge, (pointer,) if pointer else ())
    return Answer(raw, text, intent, NOTHING_FOUND.confidence(0.0), True, citations)


def join_parts(raw: str, parts: list[Answer]) -> Answer:
    """One answer for a multi-part question: each part's text in order, every part's citations.

    It is answered (方案是否明确 = 是) only when every part is: a figure without its units is half an answer.
    Its confidence is that of the least sure part answered.
    """
    answered = [part for part in parts if not part.abstained] or parts
    text = "；".join(dict.fromkeys(part.answer.rstrip("。；") for part in parts)) + "。"  # "哪几个单位负责？谁牵头？": one clause
    citations = tuple(dict.fromkeys(c for part in parts for c in part.citations))
    confidence = min(part.confidence for part in answered)
    return Answer(raw, text, answered[0].intent, confidence, any(p.abstained for p in parts), citations)


def cite(knowledge: Knowledge, source: Source) -> Citation:
    clause = source.clause
    start = clause.start if source.start is None else source.start
    end = clause.end if source.end is None else source.end
    quote = knowledge.quote(clause.doc, start, end)
    return Citation(clause.doc, clause.id, clause.section, quote, start, end, plan_title(knowledge, clause.doc))


def per_plan(raw: str, answers: list[tuple[str, Answer]], every_plan: bool) -> Answer:
    """One line per plan, each labelled with its plan and cited; never one plan contradicting itself.

    Without `every_plan` (the question named a level, not each plan) plans that do not state it are left out.
    """
    answered = [(title, a) for title, a in answers if not a.abstained]
    shown = answers if every_plan or not answered else answered
    lines = [f"{title}：{a.answer}" for title, a in shown]
    ordered = answered + [(t, a) for t, a in shown if a.abstained]  # what is stated is cited first
    citations = tuple(dict.fromkeys(c for _, a in ordered for c in a.citations))
    intent = (answered or answers)[0][1].intent
    if not answered:
        text = f"{NOT_STATED}（各方案均未明确）：" + "\n".join(lines)
        return Answer(raw, text, intent, 0.0, True, citations)
    confidence = min(a.confidence for _, a in answered)
    return Answer(raw, "\n".join(lines), intent, confidence, False, citations)


def with_reference(own: Answer, own_title: str, other: Answer) -> Answer:
    """The users' own plan does not say it; another loaded plan does. Still 未明确 for their plan (an auditor's
    方案是否明确 is about it), with the other plan's statement below, labelled and cited, for reference."""
    text = f"{own.answer}\n其他已载入方案的表述（非《{own_title}》，仅供参考）：\n{other.answer}"
    return replace(own, answer=text, citations=tuple(dict.fromkeys(own.citations + other.citations)))


def _citations(knowledge: Knowledge, sources: tuple[Source, ...]) -> tuple[Citation, ...]:
    return tuple(dict.fromkeys(cite(knowledge, s) for s in sources))  # a span cited twice is shown once
