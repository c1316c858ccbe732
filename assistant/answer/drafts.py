"""What handlers return, and the one place a draft becomes an `Answer` (intent, confidence, citations).

A handler says what it found and on what basis; how sure that makes us is decided here, by named
bases rather than numbers scattered over the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..knowledge import Knowledge
from ..models import Answer, Citation, Clause
from .evidence import Evidence

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


def compose(raw: str, intent: str, outcome: Draft | Abstain, evidence: Evidence) -> Answer:
    """Stamp the intent and the confidence of the basis; cite each source as a verbatim slice."""
    knowledge = evidence.knowledge
    if isinstance(outcome, Draft):
        citations = _citations(knowledge, outcome.sources)
        return Answer(raw, outcome.text, intent, outcome.basis.confidence(outcome.match), False, citations)
    if outcome.stated:
        text = f"{NOT_STATED}{outcome.what}：方案表述为“{outcome.stated}”。"
        citations = _citations(knowledge, (outcome.pointer,) if outcome.pointer else ())
        return Answer(raw, text, intent, STATED_WITHOUT_FIGURE.confidence(1.0), True, citations)
    nearest = evidence.nearest if outcome.pointer is None else None  # retrieved only when needed
    pointer = outcome.pointer or (Source(nearest) if nearest else None)
    text = f"{NOT_STATED}{outcome.what}。"
    if pointer is not None:
        text += f"最相关的条款是「{pointer.clause.section or pointer.clause.title}」，供参考。"
    citations = _citations(knowledge, (pointer,) if pointer else ())
    return Answer(raw, text, intent, NOTHING_FOUND.confidence(0.0), True, citations)


def join_parts(raw: str, parts: list[Answer]) -> Answer:
    """One answer for a multi-part question: each part's text in order, every part's citations.

    It abstains only when every part does; its confidence is that of the least sure part.
    """
    answered = [part for part in parts if not part.abstained] or parts
    text = "；".join(part.answer.rstrip("。；") for part in parts) + "。"
    citations = tuple(dict.fromkeys(c for part in parts for c in part.citations))
    confidence = min(part.confidence for part in answered)
    return Answer(raw, text, answered[0].intent, confidence, all(p.abstained for p in parts), citations)


def cite(knowledge: Knowledge, source: Source) -> Citation:
    clause = source.clause
    start = clause.start if source.start is None else source.start
    end = clause.end if source.end is None else source.end
    return Citation(clause.doc, clause.id, clause.section, knowledge.quote(clause.doc, start, end), start, end)


def _citations(knowledge: Knowledge, sources: tuple[Source, ...]) -> tuple[Citation, ...]:
    return tuple(dict.fromkeys(cite(knowledge, s) for s in sources))  # a span cited twice is shown once
