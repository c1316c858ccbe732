"""The shape of the plans in the corpus, read from their structure and facts, never assumed.

Which top-level sections exist, which one holds the actions (the section whose second-level
headings group the numbered tasks), what each target is matched against, and the names of the
plan's own area (from its issuing body) that say nothing about a question's topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answer.text import apply_synonyms
from assistant.facts.knowledge import PLAN_KINDS, Knowledge
from assistant.models import Clause, Target

ISSUERS = ("发文机关", "编印单位")  # front-matter fields that name the plan's own government
# An outline label at the start of a heading, of any level: 一、 / （一） / (1) / 1. / 1、 / ① / 第一章.
ORDINAL = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[）)]|\d+[.、．]\s*|[①-⑳]|"
    r"第[一二三四五六七八九十\d]+[章节条部分]\s*)"
)
AREA = re.compile(r"[\u4e00-\u9fff]{1,8}?(?:自治区|自治州|省|市|州|盟|县|区|旗)")


@dataclass(frozen=True)
class PlanShape:
    tops: dict[str, Clause]  # top-level section → its first clause, in the plan's order
    action_section: str  # the top-level section whose subsections hold the numbered tasks ("" if none)
    actions: dict[str, list[Clause]]  # its second-level headings → their clauses
    places: tuple[str, ...]  # names of the plan's own area ("某市", "某区")
    haystacks: dict[Target, tuple[tuple[str, float], ...]] = field(repr=False)

    def parts_of(self, top: str, clauses: tuple[Clause, ...]) -> dict[str, list[Clause]]:
        """The second-level headings under a top-level section, each with its clauses."""
        grouped: dict[str, list[Clause]] = {}
        for clause in clauses:
            parts = clause.section.split(" > ")
            if parts[0] == top and len(parts) > 1:
                grouped.setdefault(parts[1], []).append(clause)
        return grouped

    def section_named_in(self, text: str) -> str:
        """The top-level section whose title the text names ("政策保障包括哪几条" → "四、政策保障"), or ""."""
        named = [top for top in self.tops if title_name(top) and title_name(top) in text]
        return max(named, key=len, default="")

    def action_intro(self, clauses: tuple[Clause, ...]) -> Clause | None:
        """The paragraph right under the action section's heading, which usually names the actions."""
        return next((c for c in clauses if c.section == self.action_section and c.kind in PLAN_KINDS), None)


def read_shape(knowledge: Knowledge) -> PlanShape:
    plan = [c for c in knowledge.clauses if c.kind in PLAN_KINDS and c.section]
    tops: dict[str, Clause] = {}
    for clause in plan:
        tops.setdefault(clause.section.split(" > ")[0], clause)
    action_section = _section_with_most_tasks(plan)
    actions: dict[str, list[Clause]] = {}
    for clause in plan:
        if action_section and clause.action and clause.section.split(" > ")[0] == action_section:
            actions.setdefault(clause.action, []).append(clause)
    haystacks = {t: target_haystacks(t, knowledge.clause(t.clause_id).section) for t in knowledge.targets}
    return PlanShape(tops, action_section, actions, _places(knowledge), haystacks)


def title_name(section: str) -> str:
    """A heading without its outline label: "四、政策保障" → "政策保障", "4. 加强…" → "加强…"."""
    return ORDINAL.sub("", section)


def _section_with_most_tasks(plan: list[Clause]) -> str:
    counts: dict[str, int] = {}
    for clause in plan:
        parts = clause.section.split(" > ")
        if clause.kind == "task" and len(parts) > 2:
            counts[parts[0]] = counts.get(parts[0], 0) + 1
    return max(counts, key=lambda top: counts[top]) if counts else ""


def _places(knowledge: Knowledge) -> tuple[str, ...]:
    names = [m.group() for fact in knowledge.meta if fact.field in ISSUERS for m in AREA.finditer(fact.value)]
    return tuple(sorted(set(names), key=len, reverse=True))


def target_haystacks(target: Target, section: str) -> tuple[tuple[str, float], ...]:
    """What a target is matched against, each with a penalty for being wider than its own words.

    A figure's own segment often omits its subject (the project named in the segment before it),
    so the previous segment, the lead-in and the section path count too, a little less.
    """
    segment = segment_of(target)
    own = _comparison_marked(apply_synonyms(f"{target.indicator}{segment}"))
    sentence = apply_synonyms(target.sentence)
    pos = sentence.find(apply_synonyms(segment))
    before = sentence[:pos].rstrip(",")
    previous = before[before.rfind(",") + 1 :] if pos > 0 else ""
    lead_in = sentence[:pos] if pos > 0 else ""
    return ((own, 0.0), (previous + own, 0.1), (apply_synonyms(section) + own, 0.1), (lead_in + own, 0.15))


def _comparison_marked(text: str) -> str:
    """"能源消费比2020年下降": 比 before a year compares; it must not pair with 消费 into the "费比" of 消费比重."""
    return re.sub(r"比(?=\s*\d{4}\s*年)", "较", text)


def segment_of(target: Target) -> str:
    """The part of the sentence that states the figure (recorded at extraction)."""
    return target.segment or target.sentence
