"""What the corpus offers for one question, gathered once and shared by every handler that asks.

One retrieval per question: every handler's ranked clauses are cut from the same hit list, and the
best-covering sentence (the fallback of most handlers) is found once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from assistant.answer.plan import PlanShape
from assistant.answer.question import Question
from assistant.answer.text import apply_synonyms, coverage
from assistant.facts.knowledge import Knowledge
from assistant.facts.reading import Sentence, split_sentences
from assistant.models import Clause

# The deepest ranking any handler reads: 10 clauses, at about two chunks per clause.
HITS = 20
SCOPED_HITS = 120  # hits searched when the question is scoped to some plans, before keeping theirs
SENTENCE_CLAUSES = 6  # the sentence answer looks at this many top clauses


@dataclass(frozen=True)
class SentenceMatch:
    score: float
    clause: Clause
    sentence: Sentence
    part: str  # the comma-separated part of the sentence that covers the question best


class Evidence:
    """Lazily computed, each piece at most once; one instance per question."""

    def __init__(
        self, question: Question, knowledge: Knowledge, plan: PlanShape, retriever, docs: frozenset[str] | None = None
    ):
        self.question = question
        self.knowledge = knowledge  # cut to the plans the question is about (knowledge.restrict)
        self.plan = plan
        self.docs = docs  # those plans' documents; None = every document
        self._retriever = retriever

    @cached_property
    def hits(self) -> list:
        if self.docs is None:
            return self._retriever.search(self.question.text, k=HITS)
        hits = self._retriever.search(self.question.text, k=SCOPED_HITS)
        return [hit for hit in hits if hit.chunk.doc in self.docs][:HITS]

    def clauses(self, kinds: tuple[str, ...] | None = None, k: int = 8) -> list[Clause]:
        """The top `k` distinct clauses of those kinds among the top 2k hits."""
        seen: dict[str, Clause] = {}
        for hit in self.hits[: k * 2]:
            clause = self.knowledge.clause(hit.chunk.clause_id)
            if (kinds is None or clause.kind in kinds) and clause.id not in seen:
                seen[clause.id] = clause
        return list(seen.values())[:k]

    def rank_of(self, kinds: tuple[str, ...] | None, k: int) -> dict[str, int]:
        return {c.id: rank for rank, c in enumerate(self.clauses(kinds, k))}

    @property
    def nearest(self) -> Clause | None:
        """The clause an abstention points to."""
        return next(iter(self.clauses(k=1)), None)

    @cached_property
    def best_sentence(self) -> SentenceMatch | None:
        """The best-covering part of a sentence of the top clauses (a year asked must not be contradicted)."""
        return self.best_sentence_for(set(self.question.grams))

    def best_sentence_for(self, grams: set[str]) -> SentenceMatch | None:
        """The same, for the content words a handler asks about (the question's, less its own words)."""
        year = self.question.year
        best: SentenceMatch | None = None
        for rank, clause in enumerate(self.clauses(k=SENTENCE_CLAUSES)):
            for sentence in split_sentences(clause):
                if year and str(year) not in sentence.text and re.search(r"20\d\d年", sentence.text):
                    continue
                match = _best_part(grams, clause, sentence, rank)
                if best is None or match.score > best.score:
                    best = match
        return best


def _best_part(grams: set[str], clause: Clause, sentence: Sentence, rank: int) -> SentenceMatch:
    whole = coverage(grams, apply_synonyms(clause.section + sentence.text))
    best: SentenceMatch | None = None
    for part in re.split(r"(?<=[,:])", sentence.text):
        own = coverage(grams, apply_synonyms(part))
        score = max(own, 0.5 * own + 0.5 * whole) + 0.1 / (1 + rank)
        if best is None or score > best.score:
            best = SentenceMatch(score, clause, sentence, part)
    assert best is not None  # re.split returns at least one part
    return best
