"""The route table: every route reachable, None falls through to the sentence answer, one retrieval."""

from __future__ import annotations

import pytest

from assistant.answer import ROUTES, Assistant, Route
from assistant.answer.question import parse
from assistant.answer.routes import bind, route_for

# One question per route, in the table's order (unit_tasks is reached two ways).
ROUTED = [
    ("林业局负责哪些任务？", "unit_tasks"),
    ("碳达峰十大行动是哪些？", "list_actions"),
    ("政策保障包括哪几条？", "list_parts"),
    ("交通物流行动有几项任务？", "count_tasks"),
    ("供电公司在方案里的正式名称是什么？", "unit_names"),
    ("哪些目标要在2030年前实现？", "targets_by_year"),
    ("这个方案的文号是多少？", "meta"),
    ("4月12日聘任了几名兼职法律顾问？", "chronicle"),
    ("哪些任务由区财政局牵头？", "unit_tasks"),
    ("老旧小区改造由哪些部门负责？", "responsible"),
    ("什么时候基本淘汰国三及以下排放标准汽车？", "deadline"),
    ("方案有没有提到新型储能？", "mention"),
    ("完善财税价格支持政策具体有哪些？", "section"),
    ("到2025年非化石能源消费比重要达到多少？", "target"),
]


class CountingRetriever:
    """The real retriever, with every search recorded."""

    def __init__(self, inner):
        self.inner = inner
        self.queries: list[str] = []

    def search(self, query, k=None, mode="hybrid"):
        self.queries.append(query)
        return self.inner.search(query, k=k, mode=mode)


@pytest.fixture()
def counting(assistant):
    retriever = CountingRetriever(assistant.retriever)
    return Assistant(assistant.knowledge, retriever, assistant.settings), retriever


def test_every_route_is_reached_in_order(assistant):
    reached = []
    for question, name in ROUTED:
        route = route_for(parse(question, [], assistant.plan.places), assistant.routes)
        assert route.name == name, question
        reached.append(assistant.routes.index(route))
    assert reached == list(range(len(ROUTES)))  # each route, the default last, answers its question


def test_a_handler_that_passes_hands_the_question_to_the_next_route(assistant):
    from assistant.answer.evidence import Evidence
    from assistant.answer.routes import handle

    question = parse("2030年非化石能源消费比重的目标是什么？", [], assistant.plan.places)
    assert route_for(question, assistant.routes).name == "section"  # it asks "是什么", but names no section
    evidence = Evidence(question, assistant.knowledge, assistant.plan, assistant.retriever)
    route, outcome = handle(question, evidence, assistant.routes)
    assert route.name == "target" and "31%" in outcome.text


def test_the_default_route_takes_anything(assistant):
    assert route_for(parse("随便说点什么", []), assistant.routes) is assistant.routes[-1]
    assert assistant.routes[-1].name == "target"


def test_section_patterns_come_from_the_plan(assistant):
    question = parse("政策保障包括哪几条？", [])
    assert route_for(question, bind(ROUTES, list(assistant.plan.tops))).name == "list_parts"
    # A plan without that section: the same words are no question about its parts.
    assert route_for(question, bind(ROUTES, ["一、总体要求"])).name != "list_parts"


def test_a_handler_returning_none_falls_through_to_the_sentence_answer(counting):
    helper, _ = counting

    def not_mine(question, evidence):
        return None

    helper.routes = bind((Route("probe", ("",), not_mine),), [])
    answer = helper.ask("2025年城镇新建建筑要执行什么标准？")
    assert answer.intent == "probe" and not answer.abstained
    assert "绿色建筑标准" in answer.answer
    # The same fallback when the route wants a figure: this sentence states none.
    helper.routes = bind((Route("probe", ("",), not_mine, sentence_needs_figure=True),), [])
    strict = helper.ask("2025年城镇新建建筑要执行什么标准？")
    assert strict.abstained and strict.answer.startswith("方案中未明确具体数值")


@pytest.mark.parametrize(
    "question",
    [q for q, _ in ROUTED]
    + ["2025年城镇新建建筑要执行什么标准？", "全区湿地保护率要达到多少？", "单位GDP二氧化碳排放降幅是多少？",
       "碳达峰方案一共有几个部分？", "方案什么时候起实施？", "到2025年全区新能源汽车保有量要达到多少辆？"],
)
def test_one_retrieval_per_question(counting, question):
    helper, retriever = counting
    helper.ask(question)
    assert len(retriever.queries) <= 1, retriever.queries


def test_fallbacks_share_the_one_retrieval(counting):
    """Target → sentence → abstention pointer used to search three times; now all read one hit list."""
    helper, retriever = counting
    answer = helper.ask("全区湿地保护率要达到多少？")
    assert answer.abstained and answer.citations
    assert len(retriever.queries) == 1


def test_the_plans_own_area_says_nothing_about_the_topic(assistant):
    """Read from the issuing body in the front matter, not from a list in the code."""
    assert "鹤城区" in assistant.plan.places
    with_place = parse("鹤城区碳排放峰值要控制在多少？", [], assistant.plan.places)
    without = parse("碳排放峰值要控制在多少？", [], assistant.plan.places)
    assert with_place.grams == without.grams and "鹤城区" in with_place.text  # retrieval still sees it


def test_confidence_comes_from_the_named_basis(assistant):
    from assistant.answer.drafts import EXACT_FACT, STRUCTURE

    assert assistant.ask("这个方案的文号是多少？").confidence == STRUCTURE.confidence(1.0)
    assert assistant.ask("林业局负责哪些任务？").confidence == EXACT_FACT.confidence(1.0)
    assert assistant.ask("全区湿地保护率要达到多少？").confidence == 0.0  # an abstention claims nothing
