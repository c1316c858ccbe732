"""Questions about what a named part of a plan says: "X具体有哪些", "X的指导思想是什么", "X主要讲了什么".

The part is found by its own heading, at any depth of the outline: a question that holds most of a
heading's words asks about that section. A section with subsections answers with their headings; a
section without them answers with its own text, the heading left out.
"""

from __future__ import annotations

import re

from assistant.answer.drafts import EXACT_FACT, PASS, Draft, Pass, Source
from assistant.answer.evidence import Evidence
from assistant.answer.plan import title_name
from assistant.answer.question import Question
from assistant.answer.text import QUANTITY_ASKED
from assistant.facts.knowledge import PLAN_KINDS
from assistant.models import Clause

HEADING_HELD = 0.6  # share of a heading's content bigrams the question must hold to name that section
MIN_HEADING_GRAMS = 2  # a heading of one word ("总则") is too generic to be named by it alone


def answer_section_content(question: Question, evidence: Evidence) -> Draft | Pass:
    """The named section's subsections, or its own text; the next route's when it names no section."""
    clauses = [c for c in evidence.knowledge.clauses if c.kind in PLAN_KINDS and c.section]
    section = named_section(question, _every_section(clauses))
    if not section or asks_figure_beyond(question, section):
        return PASS
    children = _children(section, clauses)
    if children:
        text = f"“{_heading(section)}”共{len(children)}条：" + "；".join(
            title_name(name) for name in children
        ) + "。"
        return Draft(text, tuple(Source(first) for first in children.values()), EXACT_FACT)
    own = [c for c in clauses if c.section == section]
    body = "".join(dict.fromkeys(_without_heading(c) for c in own)).strip()
    if not body or not _body_answers(question, body):
        return PASS
    return Draft(f"“{_heading(section)}”：{body}", tuple(Source(c) for c in own), EXACT_FACT)


def named_section(question: Question, sections: set[str]) -> str:
    """The section whose own heading the question names best ("" when none is named well enough).

    Most of a heading's words must be in the question (a verb such as 强化/加强 may be dropped); the
    heading with more of its words there wins, then the deeper one: "保障措施里资金保障具体有哪些"
    names the subsection "（一）强化资金保障", not its part "四、保障措施".
    """
    best, best_key = "", (0, 0, 0.0)
    for section in sections:
        grams = _heading_grams(_heading(section))
        if len(grams) < MIN_HEADING_GRAMS:
            continue
        held = sum(1 for g in grams if g in question.text)
        key = (held, section.count(" > "), held / len(grams))
        if held / len(grams) >= HEADING_HELD and key > best_key:
            best, best_key = section, key
    return best


def _body_answers(question: Question, body: str) -> bool:
    """The section's text holds the year asked ("主要目标，2030年是什么" is not answered by a 十四五 text)."""
    return not question.year or str(question.year) in body


def _heading(section: str) -> str:
    """A section path's own heading without its label: "四、… > （三）完善财税价格支持政策" → "完善财税价格支持政策"."""
    return title_name(section.split(" > ")[-1])


def _every_section(clauses: list[Clause]) -> set[str]:
    """Each section path and every path above it (a part whose text all sits in its subsections)."""
    paths = set()
    for clause in clauses:
        parts = clause.section.split(" > ")
        paths.update(" > ".join(parts[: n + 1]) for n in range(len(parts)))
    return paths


def _heading_grams(heading: str) -> set[str]:
    """Every bigram of a heading's words: its generic words ("主要目标") name it as much as its rare ones."""
    runs = re.findall(r"[\u4e00-\u9fffA-Za-z0-9]+", heading)
    return {run[i : i + 2] for run in runs for i in range(len(run) - 1)}


def asks_figure_beyond(question: Question, section: str) -> bool:
    """"…行动对垃圾资源化利用率有什么目标": a figure asked of the section, not what the section says."""
    heading = _heading(section)
    return bool(QUANTITY_ASKED.search(question.text.replace(heading, "")))


def _children(section: str, clauses: list[Clause]) -> dict[str, Clause]:
    """The direct subsections of `section`, each with its first clause, in the plan's order."""
    depth = section.count(" > ") + 1
    found: dict[str, Clause] = {}
    for clause in clauses:
        parts = clause.section.split(" > ")
        if len(parts) > depth and " > ".join(parts[:depth]) == section:
            found.setdefault(parts[depth], clause)
    return found


def _without_heading(clause: Clause) -> str:
    """A clause's text after its run-in heading ("(三)完善财税价格支持政策。加强…" → "加强…")."""
    heading = title_name(clause.title)
    text = clause.text
    at = text.find(heading)
    if 0 <= at <= 6:
        rest = text[at + len(heading) :].lstrip("。.:：,， ")
        return rest
    return text
