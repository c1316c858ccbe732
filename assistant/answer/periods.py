"""How a target is told: its year or planning period, its indicator and figure, and the plan's words.

A period (“2021-2025”) is named by counting five-year plans (the third ran 1966-1970, each since
is five years on), so any plan's period gets its own name, the one plans themselves use.
"""

from __future__ import annotations

import re

from assistant.answer.plan import segment_of
from assistant.models import Target

DIGITS = "零一二三四五六七八九"
THIRD_PLAN_START = 1966  # five-year plans have run back to back since the third (1966-1970)


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


def five_year_plan_name(first: int, last: int) -> str:
    """2021, 2025 → "十四五"; "" when the years are not one five-year plan."""
    offset = first - THIRD_PLAN_START
    if last - first != 4 or offset < 0 or offset % 5:
        return ""
    return f"{chinese_number(3 + offset // 5)}五"


def chinese_number(n: int) -> str:
    """1-99 as written in plan names: 3 → 三, 14 → 十四, 20 → 二十, 21 → 二十一."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else f"{DIGITS[tens]}十")
    return head + (DIGITS[ones] if ones else "")


def _years(period: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{4})\D+(\d{4})", period.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None
