"""Years and planning periods as plans and questions write them: "2025年", "到2025年", "“十四五”期间".

A five-year plan is named by counting (the third ran 1966-1970, each since is five years on), so
"十四五" is 2021-2025 and 2021-2025 is "十四五" by one rule, for documents and questions alike.
"""

from __future__ import annotations

import re

DIGITS = "零一二三四五六七八九"
THIRD_PLAN_START = 1966  # five-year plans have run back to back since the third (1966-1970)

YEAR = re.compile(r"(20\d\d)年?")  # a year as a question names it ("2025年", "2025")
MONTH_DAY = r"(\d{1,2})月(\d{1,2})[日号]"  # "4月12日", and "4月12号" as people say it
FULL_DATE = re.compile(r"(\d{4})年" + MONTH_DAY)  # "2024年5月26日": a signing or a publication date
FIVE_YEAR_PLAN = r"十[三四五六]五"  # the five-year plans today's plans name (十三五 … 十六五)
PLAN_PERIOD = re.compile(rf"“?({FIVE_YEAR_PLAN})”?(?:期间|时期|末|规划期内)")  # "“十四五”期间", "十四五末"
# The year a statement is dated by: "到2025年", "2030年前/底/末", "至2025年", "“十四五”期间/时期/末".
YEAR_PHRASE = re.compile(rf"到(\d{{4}})年|(\d{{4}})年(?:前|底|末)|至(\d{{4}})年|“?({FIVE_YEAR_PLAN})”?(?:期间|时期|末)")


def year_of(match: re.Match[str]) -> tuple[int, str | None]:
    """The due year of a YEAR_PHRASE match, and the period for a five-year plan."""
    for group in match.groups()[:3]:
        if group:
            return int(group), None
    first, last = five_year_plan_years(match.group(4))
    return last, f"{first}-{last}"


def five_year_plan_years(name: str) -> tuple[int, int]:
    """"十四五" → (2021, 2025)."""
    first = THIRD_PLAN_START + (chinese_number_value(name[:-1]) - 3) * 5
    return first, first + 4


def five_year_plan_period(name: str) -> str:
    """"十四五" → "2021-2025"."""
    first, last = five_year_plan_years(name)
    return f"{first}-{last}"


def period_named_in(text: str) -> str:
    """The period of the first five-year plan a text (a title) names, "" when none."""
    match = re.search(FIVE_YEAR_PLAN, text)
    return five_year_plan_period(match.group()) if match else ""


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


def chinese_number_value(text: str) -> int:
    """The inverse of chinese_number: 三 → 3, 十四 → 14, 二十 → 20, 二十一 → 21."""
    tens, _, ones = text.rpartition("十")
    if "十" not in text:
        return DIGITS.index(text)
    return (DIGITS.index(tens) if tens else 1) * 10 + (DIGITS.index(ones) if ones else 0)
