"""Many plans loaded at once: answers scoped to the plan a question names, labelled, compared, missing places told."""

from __future__ import annotations

import pytest

from assistant.answer import Assistant
from assistant.config import load_settings
from assistant.facts.knowledge import build_knowledge
from assistant.models import Document
from tests.conftest import OverlapRetriever

PROVINCE = """海南省人民政府关于印发海南省碳达峰实施方案的通知
琼府〔2022〕27号
一、主要目标
到2025年，非化石能源消费比重达到22%以上，森林覆盖率稳定在62%以上。
二、重点任务
（一）能源绿色转型行动
1.发展海上风电。到2025年，海上风电装机达到120万千瓦。（省发展改革委、省能源局按职责分工负责）
"""

CITY = """苏州市人民政府关于印发苏州市碳达峰实施方案的通知
苏府〔2024〕34号
《苏州市碳达峰实施方案》已经市政府第12次常务会议审议通过，现印发给你们，请认真贯彻执行。
一、主要目标
到2025年，非化石能源消费比重达到13%以上，森林覆盖率达到20%左右。
二、重点任务
（一）能源绿色转型行动
1.发展屋顶光伏。到2025年，光伏装机达到500万千瓦。（市发展改革委、市住建局按职责分工负责）
"""

DISTRICT = """天津市西青区人民政府关于印发天津市西青区碳达峰实施方案的通知
西青政发〔2023〕5号
一、主要目标
到2025年，非化石能源消费比重达到11%，森林覆盖率达到15%以上。
二、重点任务
（一）能源绿色转型行动
1.发展屋顶光伏。到2025年，光伏装机达到30万千瓦。（区发展改革委按职责分工负责）
"""




def _assistant(*plans: tuple[str, str]) -> Assistant:
    knowledge = build_knowledge([Document(name, name, text, "0") for name, text in plans])
    return Assistant(knowledge, OverlapRetriever(knowledge), load_settings())


@pytest.fixture(scope="module")
def shelf() -> Assistant:
    return _assistant(("province.txt", PROVINCE), ("city.txt", CITY), ("district.txt", DISTRICT))


def test_a_named_place_is_answered_from_its_own_plan_only(shelf):
    answer = shelf.ask("苏州2025年非化石能源消费比重要达到多少？")
    assert not answer.abstained and "13%" in answer.answer
    assert "22%" not in answer.answer and "11%" not in answer.answer
    assert {c.doc for c in answer.citations} == {"city.txt"}


def test_every_citation_names_its_plan_and_the_answer_is_labelled(shelf):
    answer = shelf.ask("海南省2025年森林覆盖率目标是多少？")
    assert "62%" in answer.answer
    assert answer.answer.startswith("海南省碳达峰实施方案 › ")
    assert all(c.plan == "海南省碳达峰实施方案" for c in answer.citations)
    assert answer.to_dict()["citations"][0]["plan"] == "海南省碳达峰实施方案"


def test_a_level_word_scopes_to_plans_of_that_level(shelf):
    answer = shelf.ask("省里2025年非化石能源消费比重要达到多少？")
    assert "22%" in answer.answer and "13%" not in answer.answer


def test_a_doc_number_scopes_without_becoming_a_year_or_a_figure(shelf):
    answer = shelf.ask("苏府〔2024〕34号文件提出森林覆盖率达到多少？")
    assert not answer.abstained and "20%" in answer.answer
    assert {c.doc for c in answer.citations} == {"city.txt"}


def test_a_place_no_plan_governs_abstains_naming_it_and_the_loaded_plans(shelf):
    answer = shelf.ask("成都市2025年非化石能源消费比重要达到多少？")
    assert answer.abstained and answer.answer.startswith("方案中未明确")
    assert "成都市" in answer.answer
    assert "苏州市碳达峰实施方案（苏州市）" in answer.answer and "海南省碳达峰实施方案（海南省）" in answer.answer


def test_a_province_is_not_answered_by_a_plan_of_another_province(shelf):
    assert shelf.ask("江苏省2025年森林覆盖率目标是多少？").abstained


def test_a_comparison_gets_one_cited_line_per_plan(shelf):
    answer = shelf.ask("苏州和海南2025年非化石能源消费比重目标分别是多少？")
    lines = answer.answer.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("苏州市碳达峰实施方案：") and "13%" in lines[0]
    assert lines[1].startswith("海南省碳达峰实施方案：") and "22%" in lines[1]
    assert {c.doc for c in answer.citations} == {"city.txt", "province.txt"}


def test_no_scope_and_plans_disagree_each_figure_is_labelled_with_its_plan(shelf):
    answer = shelf.ask("2025年非化石能源消费比重要达到多少？")
    assert not answer.abstained
    assert "对此有不同表述" not in answer.answer  # never one plan contradicting itself
    labelled = [c.plan for c in answer.citations]
    assert len(set(labelled)) == len(labelled) > 1
    for plan in labelled:
        assert plan in answer.answer


@pytest.mark.parametrize("follow_up", ["森林覆盖率呢？", "其中森林覆盖率要达到多少？", "同样地，森林覆盖率要达到多少？"])
def test_a_follow_up_keeps_the_scope_of_the_conversation(shelf, follow_up):
    """One follow-up rule (lang.asking.is_elliptical) decides both the question's reading and its plans."""
    first = "苏州2025年非化石能源消费比重要达到多少？"
    answer = shelf.ask(follow_up, history=[(first, shelf.ask(first).answer)])
    assert "20%" in answer.answer and "62%" not in answer.answer


def test_one_plan_alone_is_answered_without_labels():
    alone = _assistant(("city.txt", CITY))
    answer = alone.ask("2025年森林覆盖率达到多少？")
    assert "20%" in answer.answer and not answer.answer.startswith("苏州市碳达峰实施方案")
    assert answer.citations[0].plan == "苏州市碳达峰实施方案"


def test_a_meeting_question_on_plans_without_a_chronicle_does_not_crash(shelf):
    answer = shelf.ask("苏州市碳达峰实施方案经市政府第几次常务会议审议通过？")
    assert not answer.abstained and "第12次" in answer.answer
    assert {c.doc for c in answer.citations} == {"city.txt"}


JIANGSU = """江苏省人民政府关于印发江苏省碳达峰实施方案的通知
一、主要目标
到2025年，非化石能源消费比重达到18%以上，单位地区生产总值能耗比2020年下降14%。
"""

SUZHOU = """苏州市人民政府关于印发苏州市碳达峰实施方案的通知
一、主要目标
到2025年，非化石能源消费比重达到13%以上，单位地区生产总值能耗比2020年下降14.5%。
"""


@pytest.fixture(scope="module")
def levels() -> Assistant:
    return _assistant(("jiangsu.txt", JIANGSU), ("suzhou.txt", SUZHOU), ("hainan.txt", PROVINCE))


def test_a_level_comparison_sets_the_plans_side_by_side_from_the_top(levels):
    answer = levels.ask("苏州的非化石能源消费比重目标和省里的目标衔接吗？")
    text = answer.answer
    assert "上下衔接" in text and "海南" not in text
    assert text.index("省·江苏省碳达峰实施方案") < text.index("市州·苏州市碳达峰实施方案")
    assert "低于上级目标要求" in text  # 13% < 18%
    assert {c.doc for c in answer.citations} == {"jiangsu.txt", "suzhou.txt"}


def test_a_larger_cut_is_at_least_as_demanding(levels):
    answer = levels.ask("苏州的单位地区生产总值能耗下降目标和省里的目标衔接吗？")
    assert "不低于上级目标要求" in answer.answer  # 14.5% ≥ 14%


def test_ledger_rows_carry_and_filter_by_plan(levels):
    from assistant.facts.knowledge import ledger_rows

    rows = ledger_rows(levels.knowledge, plan="苏州")
    assert rows and {r.plan for r in rows} == {"苏州市碳达峰实施方案"}
    assert {r.plan for r in ledger_rows(levels.knowledge)} >= {"江苏省碳达峰实施方案", "海南省碳达峰实施方案"}


def test_two_places_one_not_loaded_answers_the_loaded_one_and_names_the_missing(shelf):
    answer = shelf.ask("苏州和成都2025年森林覆盖率分别是多少？")
    assert not answer.abstained and "20%" in answer.answer
    assert "未载入成都市的方案" in answer.answer


def test_api_lists_the_plans_and_filters_the_ledger_by_plan(levels, tmp_path):
    from fastapi.testclient import TestClient

    from assistant.web.api import create_app
    from assistant.web.service import ServedAssistant

    client = TestClient(create_app(ServedAssistant.of(levels), load_settings().with_overrides(audit_log=tmp_path / "audit.jsonl")))
    docs = client.get("/api/docs").json()
    assert docs["count"] == 3 and {d["标题"] for d in docs["docs"]} >= {"苏州市碳达峰实施方案", "江苏省碳达峰实施方案"}
    rows = client.get("/api/targets", params={"plan": "江苏"}).json()["targets"]
    assert rows and {r["plan"] for r in rows} == {"江苏省碳达峰实施方案"}
    asked = client.post("/api/ask", json={"question": "苏州2025年非化石能源消费比重要达到多少？"}).json()
    assert asked["citations"][0]["plan"] == "苏州市碳达峰实施方案"


def test_meta_of_one_of_several_plans_comes_from_its_identity(shelf):
    answer = shelf.ask("苏州市碳达峰实施方案的文号是什么？")
    assert "苏府〔2024〕34号" in answer.answer and {c.doc for c in answer.citations} == {"city.txt"}
    issuer = shelf.ask("海南省碳达峰实施方案是哪个单位发布的？")
    assert "海南省人民政府" in issuer.answer


def test_a_plan_without_its_own_doc_number_abstains_rather_than_quote_one_it_cites():
    cites = """某市节能降碳实施方案
为落实《某省节能降碳实施方案》（某政发〔2022〕14号）要求，制定本方案。
一、主要目标
到2025年，单位地区生产总值能耗比2020年下降13%。
"""
    plans = _assistant(("cites.txt", cites), ("city.txt", CITY))
    answer = plans.ask("某市节能降碳实施方案的文号是什么？")
    assert answer.abstained and "14号" not in answer.answer


def test_one_indicator_however_spelled_is_matched_across_plans(shelf):
    answer = shelf.ask("苏州和西青区2025年单位GDP能耗分别下降多少？")
    assert "14.5%" not in answer.answer  # not in either plan
    district = """天津市西青区人民政府关于印发天津市西青区碳达峰实施方案的通知
一、主要目标
到2025年，单位地区生产总值能源消费比2020年下降15%。
"""
    plans = _assistant(("district.txt", district), ("city.txt", SUZHOU))
    both = plans.ask("苏州和西青区2025年单位GDP能耗比2020年分别下降多少？")
    assert "14.5%" in both.answer and "15%" in both.answer


def test_a_what_question_is_answered_with_the_plans_sentence():
    plan = """某县碳达峰实施方案
一、主要目标
到2030年，单位地区生产总值能耗持续下降，林木覆盖率保持稳定。
"""
    answer = _assistant(("county.txt", plan)).ask("到2030年林木覆盖率有什么要求？")
    assert not answer.abstained and "保持稳定" in answer.answer


def test_units_named_after_a_paragraph_are_read():
    plan = """某县碳达峰实施方案
一、重点任务
（一）推动工业设备绿色焕新。推进重点用能设备节能改造。（责任单位：县工业和信息化局、县供电公司）
"""
    answer = _assistant(("county.txt", plan)).ask("推动工业设备绿色焕新的责任单位是哪些？")
    assert not answer.abstained and "工业和信息化局" in answer.answer and "供电公司" in answer.answer


def test_a_complete_question_after_a_scoped_one_is_not_held_to_that_scope(shelf):
    first = "苏州2025年非化石能源消费比重要达到多少？"
    answer = shelf.ask("2025年森林覆盖率达到多少？", history=[(first, shelf.ask(first).answer)])
    assert answer.answer == shelf.ask("2025年森林覆盖率达到多少？").answer


def test_one_indicator_across_plans_runs_from_the_province_down(levels):
    from assistant.answer.levels import indicator_across_plans

    figures = indicator_across_plans(levels.knowledge, "非化石能源消费比重", 2025)
    assert [f.plan for f in figures][-1] == "苏州市碳达峰实施方案"
    assert {f.plan for f in figures} == {"江苏省碳达峰实施方案", "海南省碳达峰实施方案", "苏州市碳达峰实施方案"}
    assert figures[-1].note == "低于上级目标要求" and figures[0].note == ""  # 13% against 江苏's 18%, not 海南's 22%
    hainan_first = indicator_across_plans(levels.knowledge, "森林覆盖率", 2025)
    assert [f.plan for f in hainan_first] == ["海南省碳达峰实施方案"]  # only 海南 sets it
