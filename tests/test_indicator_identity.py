"""Indicator identity: a look-alike figure is no answer, and different indicators are no conflict."""

from __future__ import annotations

import pytest

from assistant.lang.indicators import answers_question, markers, same_indicator
from tests.test_many_plans import _assistant

PLAN = """某区绿色发展实施方案
一、主要目标
到2025年，新能源汽车新车销售量达到汽车新车销售总量的20%左右。
到2025年，新建大型、超大型数据中心电能利用效率不高于1.3，数据中心电能利用效率普遍不高于1.5。
“十四五”期间，力争新增高新技术企业30家以上。到2025年，实现全区高新技术企业达到80家以上。
"""


@pytest.fixture(scope="module")
def plan():
    return _assistant(("plan.txt", PLAN))


def test_a_stock_is_not_answered_by_a_sales_share(plan):
    answer = plan.ask("到2025年新能源汽车保有量要达到多少？")
    assert answer.abstained and answer.answer.startswith("方案中未明确")
    # The figure the plan does set is named as a related indicator, never given as the answer.
    assert "相近指标：新能源汽车新车销售量" in answer.answer
    assert answer.citations  # pointing at the nearest clause


def test_a_stock_is_not_answered_by_a_share_of_new_vehicles():
    assistant = _assistant(("plan.txt", "某县交通实施方案\n一、主要目标\n到2025年，新增及更新车辆中新能源汽车比例不低于30%。\n"))
    answer = assistant.ask("到2025年新能源汽车保有量要达到多少？")
    assert answer.abstained and "相近指标" in answer.answer


def test_the_sales_share_still_answers_its_own_question(plan):
    answer = plan.ask("到2025年新能源汽车新车销售量占比要达到多少？")
    assert not answer.abstained and "20%" in answer.answer


def test_all_data_centres_are_not_the_new_large_ones(plan):
    answer = plan.ask("2025年数据中心PUE要求不高于多少？")
    assert "1.5" in answer.answer and "不同表述" not in answer.answer
    new = plan.ask("2025年新建大型数据中心PUE要求不高于多少？")
    assert "1.3" in new.answer and "不同表述" not in new.answer


def test_new_is_not_the_total(plan):
    added = plan.ask("新增高新技术企业要达到多少家？")
    assert "30家" in added.answer and "80家" not in added.answer
    total = plan.ask("到2025年全区高新技术企业总数要达到多少家？")
    assert "80家" in total.answer and "不同表述" not in total.answer


def test_no_citation_is_shown_twice(plan):
    answer = plan.ask("2025年数据中心PUE要求不高于多少？")
    spans = [(c.doc, c.start, c.end) for c in answer.citations]
    assert len(spans) == len(set(spans))


@pytest.mark.parametrize(
    ("question", "own", "answers"),
    [
        ("新能源汽车保有量", "新能源汽车新车销售量达到20%", False),
        ("新能源汽车销量占比", "新能源汽车新车销售量达到20%", True),
        ("新增高新技术企业", "高新技术企业达到80家", False),
        ("高新技术企业", "新增高新技术企业30家", True),
    ],
)
def test_answers_question(question, own, answers):
    assert answers_question(question, own) is answers


def test_markers_tell_look_alikes_apart():
    assert not same_indicator("新建大型数据中心电能利用效率", "数据中心电能利用效率")
    assert same_indicator("非化石能源消费比重达到27%", "非化石能源消费比重提高到25%")
    assert markers("新能源汽车保有量") == {"保有"}


def test_a_stretch_figure_of_the_same_target_is_given_with_it():
    plan = """某市节能实施方案
一、主要目标
到2025年，全市单位地区生产总值能耗比2020年下降13%，力争完成14.5%的激励目标。
"""
    answer = _assistant(("city.txt", plan)).ask("到2025年单位地区生产总值能耗比2020年下降多少？")
    assert "13%" in answer.answer and "14.5%" in answer.answer and "力争" in answer.answer
    assert len(answer.citations) == 1


def test_a_respectively_question_takes_each_part_with_its_own_scope(plan):
    answer = plan.ask("新建大型数据中心PUE上限和2025年数据中心PUE总体要求分别是多少？")
    assert "1.3" in answer.answer and "1.5" in answer.answer


def test_a_question_naming_both_total_and_new_is_not_refused(plan):
    answer = plan.ask("到2025年高新技术企业总数要达到多少家？要新增多少家？")
    assert not answer.abstained
