"""Sentences of a clause, and the year phrases that date what they state ("到2025年", "“十四五”期间")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.models import Clause

SENTENCE = re.compile(r"[^。;；!?！？]+[。;；!?！？]?")
CN_DIGITS = {"十四五": (2021, 2025), "十五五": (2026, 2030), "十三五": (2016, 2020), "十六五": (2031, 2035)}
YEAR_PHRASE = re.compile(r"到(\d{4})年|(\d{4})年(?:前|底|末)|至(\d{4})年|“?(十[三四五六]五)”?(?:期间|时期|末)")


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


def year_of(match: re.Match[str]) -> tuple[int, str | None]:
    """The due year of a year phrase, and the period for a five-year plan."""
    for group in match.groups()[:3]:
        if group:
            return int(group), None
    first, last = CN_DIGITS[match.group(4)]
    return last, f"{first}-{last}"
