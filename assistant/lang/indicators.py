"""Indicator identity: which words make two look-alike figures different indicators.

A stock is not a flow (保有量 ≠ 销售量, 累计 ≠ 新增), a part is not the whole (新建大型数据中心 ≠
数据中心). A target answers only a question about the same indicator, and two figures conflict only
when they state the same indicator for the same year.
"""

from __future__ import annotations

import re

# Each marker narrows or changes what is counted; the words of one marker are spellings of one idea.
MARKERS: dict[str, re.Pattern[str]] = {
    "保有": re.compile(r"保有"),
    "销售": re.compile(r"销售|销量"),
    "新增": re.compile(r"新增|新建|新上|新投产"),
    "累计": re.compile(r"累计|总数"),
    "大型": re.compile(r"(?<!中)大型"),
    "存量": re.compile(r"存量|既有|现有"),
}
# Markers a target may carry without being asked: what it counts is a part or a flow of what is asked.
NARROWING = ("保有", "销售", "新增", "存量", "大型")
# What an unmarked figure already means: "高新技术企业达到80家" is a total, a stock.
IMPLICIT = frozenset({"累计", "保有", "存量"})
# A stock asked is contradicted by a flow stated (what is added or sold is not what is held).
FLOWS = frozenset({"新增", "销售"})
CONTRADICTS = {"累计": FLOWS, "保有": FLOWS, "存量": FLOWS}
UNASKED_PENALTY = 0.1  # per narrowing marker a figure carries and the question does not


def markers(text: str) -> frozenset[str]:
    return frozenset(name for name, pattern in MARKERS.items() if pattern.search(text))


def answers_question(question: str, own_words: str) -> bool:
    """Every marker the question names must be in the figure's own words (a stock may go unsaid), none contradicted."""
    asked, stated = markers(question), markers(own_words)
    for stock in asked & CONTRADICTS.keys():
        flows = CONTRADICTS[stock] - asked  # a flow asked too: no preference
        if flows & stated and stock not in stated:
            return False
    return asked - IMPLICIT <= stated


def unasked_penalty(question: str, own_words: str) -> float:
    """A figure of a narrower indicator ranks below the plain one the question asks about."""
    extra = (markers(own_words) - markers(question)) & frozenset(NARROWING)
    return UNASKED_PENALTY * len(extra)


def same_indicator(own_words_a: str, own_words_b: str) -> bool:
    return markers(own_words_a) - IMPLICIT == markers(own_words_b) - IMPLICIT
