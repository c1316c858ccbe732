"""Sentences of a clause, with their spans (the year phrases that date them: assistant/lang/periods.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.models import Clause

SENTENCE = re.compile(r"[^。;；!?！？]+[。;；!?！？]?")


@dataclass(frozen=True)
class Sentence:
    clause: Clause
    text: str
    start: int  # in clause.text
    end: int

    @property
    def original_span(self) -> tuple[int, int]:
        return self.clause.original_span(self.start, self.end)



def split_sentences(clause: Clause) -> list[Sentence]:
    return [Sentence(clause, m.group(), m.start(), m.end()) for m in SENTENCE.finditer(clause.text) if m.group().strip()]

