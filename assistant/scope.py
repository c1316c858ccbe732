"""Which loaded plans a question is about: the places, levels, titles and 文号 it names.

"省里2025年…", "苏州和海南的…分别是多少", "按鹤政函〔2024〕1号…": a question that names a plan is
answered from that plan only; a place no loaded plan covers is reported as missing rather than
answered from another province's plan. A question that names nothing is about every plan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .regions import find_regions, levels_named, same_place

DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,10}[〔\[（(【]\s*(?:19|20)\d\d\s*[〕\]）)】]\s*\d{1,4}\s*号")
# Words every plan title shares; what is left names the plan ("工业领域碳达峰", "减污降碳协同增效").
NATION = re.compile(r"全国|国家层面")
GENERIC_TITLE = re.compile(r"《|》|“|”|关于印发|的通知|实施方案|工作方案|行动方案|方案|规划|[（(].*?[)）]")


class Plan(Protocol):
    """What scoping needs to know of a loaded plan (see assistant/identity.py)."""

    doc: str
    title: str
    region: str  # the place the plan governs ("某市某区"), "" or 全国 for a national plan
    level: str  # 国家 / 省 / 市(州) / 县(市区), "" when unknown
    doc_number: str


@dataclass(frozen=True)
class Scope:
    docs: tuple[str, ...] = ()  # the plans the question is about; empty = every plan
    named: tuple[str, ...] = ()  # what the question named: places, levels, titles, 文号
    missing: tuple[str, ...] = ()  # places named that no loaded plan governs

    @property
    def narrowed(self) -> bool:
        return bool(self.docs)


def resolve_scope(question: str, plans: Sequence[Plan]) -> Scope:
    """The plans a question names, by 文号, by title, by place and by level, in that order of precision."""
    docs: dict[str, None] = {}
    named: list[str] = []
    for number in DOC_NUMBER.findall(question):
        named.append(number)
        docs.update(dict.fromkeys(p.doc for p in plans if _compact(p.doc_number) == _compact(number)))
    for plan in plans_by_title(question, plans):
        named.append(plan.title)
        docs[plan.doc] = None
    missing: list[str] = []
    for place in places_named(question):
        named.append(place)
        governed = [p.doc for p in plans if governs(p, place)]
        docs.update(dict.fromkeys(governed))
        if not governed:
            missing.append(place)
    places = places_named(question)
    for level in _levels(question, bool(named)):
        named.append(level)
        docs.update(dict.fromkeys(p.doc for p in plans if p.level[:1] == level[:1] and _above(p, places)))
    return Scope(tuple(docs), tuple(dict.fromkeys(named)), tuple(dict.fromkeys(missing)))


def _levels(question: str, named_plans: bool) -> tuple[str, ...]:
    """The levels a question names; beside a plan's title or 文号 "国家" is a body's name unless it says 全国."""
    levels = levels_named(question)
    if named_plans and not places_named(question):
        return tuple(level for level in levels if level == "国家" and NATION.search(question))
    return tuple(level for level in levels if level != "国家" or NATION.search(question) or not named_plans)


def _above(plan: Plan, places: list[str]) -> bool:
    """With a place named, "省里" is the province that place lies in: "苏州…和省里的目标" → 江苏省's plan."""
    if not places or plan.level == "国家":
        return True
    own = [m.region for m in find_regions(plan.region)]
    if not own:
        return False
    return any(m.region.within(own[-1]) for place in places for m in find_regions(place)[:1])


def scope_words(question: str, plans: Sequence[Plan]) -> list[str]:
    """The literal words by which a question names plans (文号, titles, places): they say nothing about its topic."""
    words = DOC_NUMBER.findall(question)
    for plan in plans_by_title(question, plans):
        words += [w for w in (plan.title, title_core(plan)) if w and w in question]
    words += [question[m.start : m.end] for m in find_regions(question)]
    return sorted(dict.fromkeys(words), key=len, reverse=True)


def places_named(question: str) -> list[str]:
    """The most specific place of each run of places: "天津市西青区" is 西青区."""
    mentions = sorted(find_regions(question), key=lambda m: (m.start, -m.end))
    places: list[str] = []
    previous_end = -1
    for mention in mentions:
        if places and mention.start == previous_end and mention.region.level != "省":
            places[-1] = mention.region.name  # a place written right after its parent
        elif mention.start >= previous_end:
            places.append(mention.region.name)
        previous_end = max(previous_end, mention.end)
    return list(dict.fromkeys(places))


def plans_by_title(question: str, plans: Sequence[Plan]) -> list[Plan]:
    """Plans whose distinctive title words the question quotes; regionless (national) titles win ties."""
    matched = [p for p in plans if (core := title_core(p)) and len(core) >= 4 and core in question]
    if len(matched) > 1:
        places = places_named(question)
        local = [p for p in matched if any(governs(p, place) for place in places)]
        national = [p for p in matched if p.level == "国家" or not p.region]
        matched = (local if places else national) or matched
    return matched


def governs(plan: Plan, place: str) -> bool:
    """The plan is that place's own: "天津市西青区" governs 西青区, not 天津市."""
    if not plan.region or plan.level == "国家":
        return False
    own = places_named(plan.region)
    return same_place(own[-1] if own else plan.region, place)


def title_core(plan: Plan) -> str:
    core = GENERIC_TITLE.sub("", plan.title).strip()
    while leading := [m.end for m in find_regions(core) if m.start == 0]:
        core = core[max(leading) :]
    return core


def _compact(text: str) -> str:
    return re.sub(r"[\s〔〕\[\]（）()【】]", "", text)
