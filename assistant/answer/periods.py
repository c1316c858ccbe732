"""How a target is told: its year or planning period, its indicator and figure, and the plan's words.

A period (“2021-2025”) gets the five-year plan's name plans themselves use (assistant/lang/periods.py).
"""

from __future__ import annotations

import re

from assistant.answer.plan import segment_of
from assistant.lang.periods import five_year_plan_name
from assistant.models import Target


def describe_target(target: Target) -> str:
    """"到2025年，非化石能源消费比重提高到27%以上（原文：…）": the plan's own figure and words."""
    when = f"到{target.year}年，" if target.year else ""
    if target.period:
        when = f"{period_label(target.period)}，"
    return f"{when}{target.indicator}{target.display}（原文：{segment_of(target)}）"


def period_label(period: str) -> str:
    """"2021-2025" → "“十四五”期间（2021-2025）"; a span that is no five-year plan keeps its years."""
    years = _years(period)
    if years is None:
        return f"{period}期间"
    name = five_year_plan_name(*years)
    return f"“{name}”期间（{period}）" if name else f"{period}年期间"


def _years(period: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{4})\D+(\d{4})", period.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None
