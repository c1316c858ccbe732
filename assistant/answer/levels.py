"""One indicator up and down the levels (国家 → 省 → 市 → 县区): side by side, and whether they fit together.

上下衔接 is a question officials must answer: is the lower plan's target at least as demanding as the
higher one's? That can be said only of two numeric targets of the same indicator, unit, year and
direction; otherwise the figures are shown side by side and the note says they are not comparable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.facts.knowledge import Knowledge, plan_title
from assistant.models import Target

SAME_INDICATOR = 0.8  # share of the indicator's words a plan's figure must carry to be the same indicator
LEVEL_ORDER = ("国家", "省", "市", "县")  # PlanIdentity.level starts with one of these
CUT = re.compile(r"下降|降低|减少|压减|削减")  # a larger figure asks more
CAP = re.compile(r"不高于|不超过|控制在|以内|以下|低于")  # a smaller figure asks more


@dataclass(frozen=True)
class LevelFigure:
    plan: str  # the plan's title
    level: str
    region: str
    target: Target
    note: str  # against the nearest higher plan: 不低于上级目标 / 低于上级目标 / 不可直接比较 / "" for the highest


def level_rank(level: str) -> int:
    return next((i for i, name in enumerate(LEVEL_ORDER) if level.startswith(name)), len(LEVEL_ORDER))


def direction(target: Target) -> str:
    """raise (more is more demanding), cut (a larger reduction is), cap (a lower ceiling is)."""
    words = f"{target.comparator}{target.qualifier}{target.segment}"
    if CUT.search(target.comparator) or CUT.search(words):
        return "cut"
    if CAP.search(words):
        return "cap"
    return "raise"


def comparable(lower: Target, higher: Target) -> bool:
    return lower.unit == higher.unit and lower.year == higher.year and direction(lower) == direction(higher)


def at_least_as_demanding(lower: Target, higher: Target) -> bool | None:
    """None when the two cannot be compared (another unit, year or direction)."""
    if not comparable(lower, higher):
        return None
    if direction(lower) == "cap":
        return lower.value <= higher.value
    return lower.value >= higher.value


def across_levels(knowledge: Knowledge, targets: Sequence[Target]) -> list[LevelFigure]:
    """The first figure given for each plan, ordered 国家 → 县区, each compared with the nearest plan above it."""
    per_plan: dict[str, Target] = {}
    for target in targets:
        per_plan.setdefault(knowledge.clause(target.clause_id).doc, target)
    ordered = sorted(per_plan.items(), key=lambda item: level_rank(knowledge.identities[item[0]].level))
    figures: list[LevelFigure] = []
    for doc, target in ordered:
        identity = knowledge.identities[doc]
        above = [f for f in figures if level_rank(f.level) < level_rank(identity.level)]
        parents = [f for f in above if _within(identity.region, f.region)] or above
        note = _note(target, parents[-1].target) if parents else ""
        figures.append(LevelFigure(plan_title(knowledge, doc), identity.level, identity.region, target, note))
    return figures


def indicator_across_plans(knowledge: Knowledge, indicator: str, year: int | None = None) -> list[LevelFigure]:
    """"非化石能源消费比重" in every plan that sets it: each plan's closest figure, 国家 first, compared downwards."""
    from assistant.answer.text import apply_synonyms, bigrams, coverage

    wanted = bigrams(apply_synonyms(indicator))
    best: dict[str, tuple[float, Target]] = {}
    for target in knowledge.targets:
        if year is not None and target.year != year:
            continue
        score = coverage(wanted, apply_synonyms(target.indicator))
        doc = knowledge.clause(target.clause_id).doc
        if score >= SAME_INDICATOR and score > best.get(doc, (0.0, target))[0]:
            best[doc] = (score, target)
    return across_levels(knowledge, [target for _, target in best.values()])


def _within(region: str, higher: str) -> bool:
    """苏州市 lies within 江苏省 (GB/T 2260 codes); a national plan covers every place."""
    from assistant.lang.places import find_regions

    if higher in ("", "全国"):
        return True
    own, outer = find_regions(region), find_regions(higher)
    return bool(own and outer) and own[-1].region.within(outer[-1].region)


def _note(lower: Target, higher: Target) -> str:
    verdict = at_least_as_demanding(lower, higher)
    if verdict is None:
        return "与上级目标口径（单位、年份或方向）不同，不可直接比较"
    return "不低于上级目标要求" if verdict else "低于上级目标要求"
