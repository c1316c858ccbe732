"""Responsible units: who leads a task, what a unit is responsible for, how the plan spells a unit."""

from __future__ import annotations

import re

from assistant.answer.drafts import EXACT_FACT, FACT_MATCH, Abstain, Draft, Source
from assistant.answer.evidence import Evidence
from assistant.answer.question import Question
from assistant.answer.text import coverage
from assistant.facts.knowledge import PLAN_KINDS
from assistant.models import Clause

PERSON = re.compile(r"负责人|组长|局长|主任是谁|书记是谁|姓名|叫什么名字")
CONTACT = re.compile(r"反映|报告|报送|咨询|联系|请示|备案|反馈")  # "遇到问题向哪个部门反映"
MIN_TASK_SCORE = 0.45
TASK_CLAUSES = 6


def answer_responsible(question: Question, evidence: Evidence) -> Draft | Abstain | None:
    if PERSON.search(question.text):
        return Abstain("具体负责人（方案只列责任单位，不列人员）")
    grams = question.grams_without(r"谁|牵头|负责|部门|单位|配合|责任|参加|参与|哪些|哪个")
    scored = [(coverage(grams, c.section + c.text) + 0.2 / (1 + rank), c) for rank, c in enumerate(_task_clauses(evidence))]
    best = max(scored, key=lambda s: s[0], default=None)  # the first of equals, as ranked
    if best is None or best[0] < MIN_TASK_SCORE:
        # No task matches: whom to turn to ("请径向…反映") is said in a sentence, not a task's units.
        return None if CONTACT.search(question.text) else Abstain("负责单位")
    score, clause = best
    units = evidence.knowledge.responsibilities.get(clause.id)
    if units is None:
        return Abstain("负责单位", Source(clause))
    text = f"「{clause.title}」由{units.lead}牵头"
    if len(units.units) > 1:
        text += f"，{'、'.join(units.units[1:])}配合（按职责分工负责）"
    if question.units and question.units[0] not in units.units:
        text = f"{question.units[0]}不在该任务的责任单位中。" + text
    return Draft(text + "。", (Source(clause, units.start, units.end), Source(clause)), FACT_MATCH, score)


def _task_clauses(evidence: Evidence) -> list[Clause]:
    """Tasks, and any clause of the plan that names its units ("（责任单位：…）" after a paragraph or a goal)."""
    units = evidence.knowledge.responsibilities
    ranked = evidence.clauses(PLAN_KINDS, TASK_CLAUSES * 2)
    return [c for c in ranked if c.kind == "task" or c.id in units][:TASK_CLAUSES]


def answer_unit_names(question: Question, evidence: Evidence) -> Draft | Abstain:
    """How the plan spells a unit: it may use two names for one body (区发展和改革局 / …委员会)."""
    unit = question.units[0]
    knowledge = evidence.knowledge
    spellings: dict[str, list[Clause]] = {}
    for clause_id, units in knowledge.responsibilities.items():
        for original in units.original:
            if knowledge.unit_aliases.canonical(original) == unit:
                spellings.setdefault(original, []).append(knowledge.clause(clause_id))
    if not spellings:
        return Abstain(f"{unit}的名称")
    parts = [f"“{name}”（{len(clauses)}处）" for name, clauses in sorted(spellings.items(), key=lambda kv: -len(kv[1]))]
    text = f"方案中该单位写作{'、'.join(parts)}" + ("，两种写法指同一单位。" if len(parts) > 1 else "。")
    sources = tuple(_units_source(evidence, clauses[0]) for clauses in spellings.values())
    return Draft(text, sources, EXACT_FACT)


def answer_unit_tasks(question: Question, evidence: Evidence) -> Draft | Abstain:
    """A unit's tasks; only the action section's when the question names the actions or that section."""
    unit = question.units[0]
    lead_only = "牵头" in question.text and not re.search(r"负责|参与|配合|涉及|承担", question.text)
    scope = evidence.plan.action_section if _asks_about_actions(question, evidence) else ""
    rows, sources = [], []
    for clause_id, units in evidence.knowledge.responsibilities.items():
        clause = evidence.knowledge.clause(clause_id)
        if unit in units.units and (not lead_only or units.lead == unit) and _within(clause, scope):
            rows.append(f"{clause.section}（{'牵头' if units.lead == unit else '配合'}）")
            sources.append(Source(clause, units.start, units.end))
    if not rows:
        return Abstain(f"{unit}负责的任务")
    led = sum(1 for r in rows if r.endswith("（牵头）"))
    head = f"{unit}{'牵头' if lead_only else '负责'}的任务共{len(rows)}项" + ("：" if lead_only else f"（其中牵头{led}项）：")
    return Draft(head + "；".join(rows) + "。", tuple(sources), EXACT_FACT)


def _asks_about_actions(question: Question, evidence: Evidence) -> bool:
    plan = evidence.plan
    return bool(plan.action_section) and ("行动" in question.text or plan.section_named_in(question.text) == plan.action_section)


def _within(clause: Clause, section: str) -> bool:
    return not section or clause.section.split(" > ")[0] == section


def _units_source(evidence: Evidence, clause: Clause) -> Source:
    units = evidence.knowledge.responsibilities[clause.id]
    return Source(clause, units.start, units.end)

