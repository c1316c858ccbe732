"""The route table: which handler answers a question, in one ordered place, the default included.

The first route whose patterns all match (and whose needs the question meets) answers; a handler
returning None falls through to the sentence answer (requiring a figure where the route says so).
A pattern may name the plan's own top-level sections with SECTION: `bind` fills in each plan's titles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from assistant.answer.drafts import Abstain, Draft, Pass
from assistant.answer.evidence import Evidence
from assistant.answer.outline import (
    answer_count_tasks,
    answer_list_actions,
    answer_list_parts,
    answer_targets_by_year,
)
from assistant.answer.plan import title_name
from assistant.answer.question import Question
from assistant.answer.records import answer_chronicle, answer_deadline, answer_meta
from assistant.answer.sections import answer_section_content
from assistant.answer.sentence import answer_mention
from assistant.answer.targets import answer_target
from assistant.answer.units import answer_responsible, answer_unit_names, answer_unit_tasks

Handler = Callable[[Question, Evidence], Draft | Abstain | Pass | None]
SECTION = "<SECTION>"
NEVER = "(?!)"

UNIT_TASKS = r"(负责|牵头|参与|承担|涉及).{0,4}(哪些|哪几|什么|几项|多少)"
CONTENT_ASKED = (
    r"哪些|包括|包含|内容|举措|措施|讲了什么|说了什么|写了什么|"
    r"(是|有)什么|怎么(表述|写|说|讲|要求|搞|安排)|什么要求"
)
RESPONSIBLE = r"谁|哪个部门|哪些部门|哪个单位|哪些单位|什么部门|什么单位|责任单位|牵头单位|配合单位|参加单位|参与单位|负责单位|由.{0,10}负责|牵头"


@dataclass(frozen=True)
class Route:
    name: str  # the intent reported with the answer
    patterns: tuple[str, ...]  # regular expressions that must all match the normalised question
    handler: Handler
    needs: tuple[str, ...] = ()  # Question fields that must be non-empty ("units")
    sentence_needs_figure: bool = False  # the fallback sentence must state a figure
    sections: str = NEVER  # what SECTION stands for: a plan's section titles, set by `bind`
    compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(re.compile(p.replace(SECTION, self.sections)) for p in self.patterns)
        object.__setattr__(self, "compiled", compiled)  # frozen: derived once, here

    def matches(self, question: Question) -> bool:
        return all(getattr(question, need) for need in self.needs) and all(p.search(question.text) for p in self.compiled)


ROUTES: tuple[Route, ...] = (
    Route("unit_tasks", (UNIT_TASKS,), answer_unit_tasks, needs=("units",)),
    Route("list_actions", (
        r"((\d+|[一二三四五六七八九十]+|几)大|哪些|哪几|多少|几个)(项)?(重点)?行动|行动有哪些|行动包括|"
        r"(\d+|[一二三四五六七八九十]+)大行动.{0,10}(多少|几)(条|项)",), answer_list_actions),
    Route("list_parts", (
        rf"({SECTION})(部分)?.{{0,6}}(哪几|哪些|几条|几个方面|几方面|包括)|(几个|哪几个|哪些|几)部分",), answer_list_parts),
    Route("count_tasks", (
        r"行动.{0,8}(几项|几个|几条|多少项|多少个|多少条|哪些|哪几)(具体|重点)?任务|行动.{0,4}任务有哪些",), answer_count_tasks),
    Route("unit_names", (r"名称|全称|叫什么|叫“|写法|怎么写",), answer_unit_names, needs=("units",)),
    Route("targets_by_year", (
        r"(哪些|哪几|什么)(目标|指标|任务).{0,12}20\d\d|20\d\d.{0,10}(哪些|哪几|有什么)(目标|指标|任务)",), answer_targets_by_year),
    Route("meta", (
        r"文号|印发|发文|主送|期号|第几期|哪一期|总第|总期|编辑|编委|编辑委员会|编委会|编印|公报.{0,8}(日期|时间|哪天|出版|出刊|主任)|"
        r"方案名称|全称|通知|发布单位|落款|颁布|(哪个|哪些|几个)(单位|部门|机关).{0,4}(印发|发布)",), answer_meta),
    Route("chronicle", (
        r"\d{1,2}月\d{1,2}[日号]|大事记|常务会议|会议|调度会|主持|会见|调研|督导|考察|招商|接访|聘任|法律顾问|慰问|培训班|开班|"
        r"巡河|巡田|[省市县区乡镇]长|书记|[省市县区乡镇]领导",), answer_chronicle),
    # "哪些任务由区财政局牵头": a unit named with "which tasks" asks for its tasks, not a task's units.
    Route("unit_tasks", (RESPONSIBLE, r"负责|牵头", r"哪些|哪几|几项"), answer_unit_tasks, needs=("units",)),
    Route("responsible", (RESPONSIBLE,), answer_responsible),
    Route("deadline", (r"什么时候|何时|哪一年|哪年|时间节点|期限|截止|多久|时限|什么时间",), answer_deadline),
    Route("mention", (r"有没有|是否|有无|(提到|提及|涉及|说到).*吗|[了么]吗[?？]?$",), answer_mention),
    # "X具体有哪些", "X的指导思想是什么": what a section the question names by its heading says.
    Route("section", (CONTENT_ASKED,), answer_section_content),
    Route("target", ("",), answer_target, sentence_needs_figure=True),  # the default: a figure asked
)


def bind(routes: tuple[Route, ...], section_titles: list[str]) -> tuple[Route, ...]:
    """The routes with SECTION standing for these section titles (their ordinals dropped)."""
    names = [title_name(title) for title in section_titles]
    alternatives = "|".join(re.escape(n) for n in sorted(filter(None, names), key=len, reverse=True)) or NEVER
    return tuple(replace(route, sections=alternatives) for route in routes)


def route_for(question: Question, routes: tuple[Route, ...]) -> Route:
    """The first route that matches; the last route matches everything."""
    return next(route for route in routes if route.matches(question))


def handle(question: Question, evidence: Evidence, routes: tuple[Route, ...]) -> tuple[Route, Draft | Abstain | None]:
    """The first matching route whose handler does not pass, and what it returned."""
    for route in routes:
        if route.matches(question):
            outcome = route.handler(question, evidence)
            if not isinstance(outcome, Pass):
                return route, outcome
    raise AssertionError("the last route matches everything and never passes")
