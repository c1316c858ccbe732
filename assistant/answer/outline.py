"""Questions about the plan as a whole: its parts, its actions and their tasks, a year's targets.

Everything is counted from the document's own structure (section paths and clause kinds).
"""

from __future__ import annotations

import re

from assistant.answer.drafts import EXACT_FACT, STRUCTURE, Abstain, Draft, Source
from assistant.answer.evidence import Evidence
from assistant.answer.question import Question
from assistant.answer.sections import named_section
from assistant.answer.text import coverage

NAMES_A_PART = 0.5  # share of the question's content words a section title must hold to be the one asked
ASKS_TOTAL = re.compile(r"(一共|总共|加起来|合计|共有?).{0,6}(多少|几)(条|项|个).{0,4}任务")


def answer_list_parts(question: Question, evidence: Evidence) -> Draft | None:
    """The plan's outline, or the subsections of the part the question names."""
    tops = evidence.plan.tops
    if not tops:
        return None
    grams = set(question.grams)
    named = evidence.plan.section_named_in(question.text)
    top = named or max(tops, key=lambda t: coverage(grams, t))
    if not named and coverage(grams, top) < NAMES_A_PART:
        text = f"方案共{len(tops)}个部分：" + "；".join(tops) + "。"
        return Draft(text, tuple(Source(c) for c in tops.values()), EXACT_FACT)
    parts = evidence.plan.parts_of(top, evidence.knowledge.clauses)
    if not parts:  # a part without subsections ("二、主要目标"): what it says is what it includes
        own = [c for c in evidence.knowledge.clauses if c.section == top]
        return Draft(f"“{top}”：" + "".join(c.text for c in own), tuple(Source(c) for c in own), EXACT_FACT) if own else None
    text = f"“{top}”共{len(parts)}条：" + "；".join(parts) + "。"
    return Draft(text, tuple(Source(c[0]) for c in parts.values()), EXACT_FACT)


def answer_list_actions(question: Question, evidence: Evidence) -> Draft | Abstain:
    plan = evidence.plan
    if not plan.actions:
        return Abstain()
    if "任务" in question.text and _action_named(question, plan.actions) or named_section(question, set(plan.actions)):
        return answer_count_tasks(question, evidence)  # "节能降碳增效行动有哪些任务/措施": that action's tasks
    if ASKS_TOTAL.search(question.text):
        counts = {name: sum(1 for c in clauses if c.kind == "task") for name, clauses in plan.actions.items()}
        text = f"{len(counts)}大行动共有{sum(counts.values())}项具体任务：" + "；".join(
            f"{name}{n}项" for name, n in counts.items()
        ) + "。"
        return Draft(text, tuple(Source(c[0]) for c in plan.actions.values()), EXACT_FACT)
    intro = plan.action_intro(evidence.knowledge.clauses)
    text = f"方案“{plan.action_section}”共部署{len(plan.actions)}大行动：" + "；".join(plan.actions) + "。"
    sources = (Source(intro),) if intro else tuple(Source(c[0]) for c in plan.actions.values())
    return Draft(text, sources, STRUCTURE)


def _action_named(question: Question, actions: dict) -> str:
    """The one action the question names by its title ("" when none does)."""
    grams = question.grams_without(r"行动|任务|几项|多少|有哪些|包括|哪几项|哪些")
    name = max(actions, key=lambda a: coverage(grams, a))
    return name if coverage(grams, name) >= NAMES_A_PART else ""


def answer_count_tasks(question: Question, evidence: Evidence) -> Draft | Abstain:
    actions = evidence.plan.actions
    if not actions:
        return Abstain()
    name = named_section(question, set(actions)) or _action_named(question, actions)
    if not name:
        return Abstain("该行动")
    tasks = [c for c in actions[name] if c.kind == "task"]
    text = f"{name}共有{len(tasks)}项任务：" + "；".join(c.title for c in tasks) + "。"
    sources = tuple(Source(c, c.start, c.offsets[len(c.title) + 1]) for c in tasks)  # each task's heading
    return Draft(text, sources, STRUCTURE)


def answer_targets_by_year(question: Question, evidence: Evidence) -> Draft | Abstain:
    year = question.year
    targets = [t for t in evidence.knowledge.targets if t.year == year]
    if not targets:
        return Abstain(f"{year}年的目标")
    lines = [f"{t.indicator}{t.display}" for t in targets]
    text = f"方案中明确到{year}年的量化目标共{len(targets)}项：" + "；".join(lines) + "。"
    sources = tuple(Source(evidence.knowledge.clause(t.clause_id), t.start, t.end) for t in targets)
    return Draft(text, sources, EXACT_FACT)
