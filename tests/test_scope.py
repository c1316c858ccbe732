"""Scoping a question to the plans it names (assistant/answer/named_plans.py), on a small synthetic shelf of plans."""

from dataclasses import dataclass

import pytest

from assistant.answer.named_plans import resolve_scope


@dataclass(frozen=True)
class FakePlan:
    doc: str
    title: str
    region: str
    level: str
    doc_number: str = ""


SHELF = (
    FakePlan("national", "工业领域碳达峰实施方案", "全国", "国家"),
    FakePlan("nation-2", "减污降碳协同增效实施方案", "", "国家"),
    FakePlan("province", "海南省碳达峰实施方案", "海南省", "省"),
    FakePlan("city", "苏州市碳达峰实施方案", "苏州市", "市州", "苏府〔2023〕12号"),
    FakePlan("district", "天津市西青区碳达峰实施方案", "天津市西青区", "县市区"),
    FakePlan("municipal-2", "重庆市减污降碳协同增效实施方案", "重庆市", "省"),
)


@pytest.mark.parametrize(
    ("question", "docs"),
    [
        ("森林覆盖率目标是多少？", ()),
        ("苏州2025年单位GDP能耗下降多少？", ("city",)),
        ("苏州和海南的森林覆盖率分别是多少？", ("city", "province")),
        ("天津市西青区的光伏任务谁牵头？", ("district",)),
        ("省里2025年非化石能源比重要求是多少？", ("province", "municipal-2")),
        ("市里和我们区的目标分别是多少？", ("city", "district")),
        ("苏府〔2023〕12号文件的目标是多少？", ("city",)),
        ("工业领域碳达峰实施方案中单位工业增加值能耗下降多少？", ("national",)),
        ("减污降碳协同增效实施方案提出什么目标？", ("nation-2",)),
        ("重庆市减污降碳协同增效实施方案提出什么目标？", ("municipal-2",)),
    ],
)
def test_the_plans_a_question_names(question: str, docs: tuple[str, ...]) -> None:
    assert resolve_scope(question, SHELF).docs == docs


def test_a_place_no_plan_governs_is_missing_not_answered_elsewhere() -> None:
    scope = resolve_scope("成都市2025年森林覆盖率目标是多少？", SHELF)
    assert scope.docs == () and scope.missing == ("成都市",)


def test_a_province_is_not_answered_by_its_city() -> None:
    scope = resolve_scope("江苏省的非化石能源比重目标是多少？", SHELF)
    assert scope.missing == ("江苏省",) and "city" not in scope.docs


def test_two_places_one_missing_keeps_the_loaded_one() -> None:
    scope = resolve_scope("苏州和成都的森林覆盖率分别是多少？", SHELF)
    assert scope.docs == ("city",) and scope.missing == ("成都市",)


def test_a_level_beside_a_place_is_the_level_above_that_place() -> None:
    shelf = (*SHELF, FakePlan("jiangsu", "江苏省碳达峰实施方案", "江苏省", "省"))
    scope = resolve_scope("苏州的非化石能源消费比重目标和省里的目标衔接吗？", shelf)
    assert scope.docs == ("city", "jiangsu")


def test_a_body_named_beside_a_plan_does_not_widen_the_scope() -> None:
    assert resolve_scope("苏州市碳达峰实施方案经市政府第几次常务会议审议通过？", SHELF).docs == ("city",)
    assert resolve_scope("工业领域碳达峰实施方案由国家发展改革委参与印发吗？", SHELF).docs == ("national",)


NAMED_SHELF = (
    FakePlan("transition", "绵阳市加快经济社会发展全面绿色转型工作方案", "绵阳市", "市州", "绵府办发〔2024〕9号"),
    FakePlan("storage", "新型储能产业高质量发展三年行动计划", "", ""),
    FakePlan("solar", "德阳市光伏发电开发利用若干措施", "德阳市", "市州"),
    FakePlan("province", "四川省节能降碳实施方案", "四川省", "省"),
)


@pytest.mark.parametrize(
    ("question", "docs"),
    [
        ("绵阳市加快经济社会发展全面绿色转型工作方案提出哪些目标？", ("transition",)),  # the full title
        ("经济社会发展绿色转型方案里森林覆盖率目标是多少？", ("transition",)),  # keywords of it, apart
        ("新型储能产业高质量发展行动计划的装机目标是多少？", ("storage",)),  # without 三年
        ("光伏发电开发利用措施由谁牵头？", ("solar",)),  # a plan whose region is unknown is still named by title
        ("绵府办发〔2024〕9号规定的目标是多少？", ("transition",)),  # by its 文号
        ("森林覆盖率目标是多少？", ()),
    ],
)
def test_a_plan_named_by_its_title_a_short_title_or_its_number(question: str, docs: tuple[str, ...]) -> None:
    assert resolve_scope(question, NAMED_SHELF).docs == docs


def test_a_title_word_that_is_also_the_topic_stays_in_the_question() -> None:
    """"光伏发电" names the plan and is what is asked about: the topic keeps it; 方案 words are scope only."""
    from assistant.answer.named_plans import scope_words

    bare = "光伏发电开发利用的装机目标是多少？"
    assert resolve_scope(bare, NAMED_SHELF).docs == ("solar",)
    assert not any("光伏" in word for word in scope_words(bare, NAMED_SHELF))
    assert "光伏发电开发利用若干措施" in scope_words("光伏发电开发利用若干措施中装机目标是多少？", NAMED_SHELF)


def test_a_plan_of_unknown_place_is_reached_by_its_full_title() -> None:
    shelf = (*NAMED_SHELF, FakePlan("unplaced", "广元市碳达峰实施方案", "", ""))
    scope = resolve_scope("广元市碳达峰实施方案中非化石能源比重目标是多少？", shelf)
    assert scope.docs == ("unplaced",) and scope.missing == ()
