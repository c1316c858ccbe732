"""The users' own plan (PLANQA_HOME_PLAN): questions naming no plan, "我们区", "市里" are read from where the
askers sit; the other loaded plans answer only when named, or for reference when the own plan is silent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.answer import Assistant
from assistant.answer.named_plans import places_named
from assistant.config import load_settings
from assistant.errors import SettingsError
from assistant.facts.knowledge import build_knowledge, load_knowledge
from assistant.models import Document
from tests.conftest import OverlapRetriever
from tests.test_many_plans import PROVINCE

CITY = """三亚市人民政府关于印发三亚市碳达峰实施方案的通知
三府〔2023〕8号
一、主要目标
到2025年，非化石能源消费比重达到30%以上，森林覆盖率达到69%左右。
"""

DISTRICT = """三亚市吉阳区人民政府关于印发三亚市吉阳区碳达峰实施方案的通知
吉府〔2023〕3号
一、主要目标
到2025年，非化石能源消费比重达到35%以上，森林覆盖率稳定在70%以上。
二、重点任务
（一）能源绿色转型行动
1.发展屋顶光伏。海南椰风物流园屋顶光伏项目规模为2兆瓦。（区发展和改革局牵头，区住房和城乡建设局配合）
"""


def _assistant(home: str) -> Assistant:
    plans = [("province.txt", PROVINCE), ("city.txt", CITY), ("district.txt", DISTRICT)]
    knowledge = build_knowledge([Document(name, name, text, "0") for name, text in plans])
    return Assistant(knowledge, OverlapRetriever(knowledge), load_settings(home_plan=home))


@pytest.fixture(scope="module")
def district() -> Assistant:
    return _assistant("吉阳区")


def test_a_question_naming_no_plan_is_about_the_home_plan(district):
    answer = district.ask("2025年非化石能源消费比重要达到多少？")
    assert not answer.abstained and "35%" in answer.answer
    assert "22%" not in answer.answer and "30%" not in answer.answer
    assert {c.doc for c in answer.citations} == {"district.txt"}


@pytest.mark.parametrize("asked", ["我们区2025年森林覆盖率要稳定在多少？", "全区2025年森林覆盖率要稳定在多少？"])
def test_our_district_is_the_home_plan(district, asked):
    answer = district.ask(asked)
    assert "70%" in answer.answer and "69%" not in answer.answer and "62%" not in answer.answer


def test_the_levels_above_are_those_above_the_home_plan(district):
    city = district.ask("市里2025年森林覆盖率目标是多少？")
    assert "69%" in city.answer and "70%" not in city.answer
    both = district.ask("省里和我们区2025年非化石能源消费比重分别是多少？")
    assert "22%" in both.answer and "35%" in both.answer and "30%" not in both.answer


def test_a_place_in_a_name_the_home_plan_uses_is_no_scope(district):
    """"海南椰风物流园" is a park the district plan names, not the province's plan."""
    answer = district.ask("海南椰风物流园屋顶光伏项目规模是多少？")
    assert not answer.abstained and "2兆瓦" in answer.answer
    assert answer.citations[0].doc == "district.txt"


def test_a_named_plan_still_answers_from_that_plan(district):
    answer = district.ask("海南省2025年非化石能源消费比重要达到多少？")
    assert "22%" in answer.answer and "35%" not in answer.answer


def test_what_only_another_plan_states_is_shown_for_reference_and_still_not_stated_for_ours(district):
    answer = district.ask("到2025年海上风电装机要达到多少？")
    assert answer.abstained  # 方案是否明确 is about the askers' own plan
    assert "120万千瓦" in answer.answer and "仅供参考" in answer.answer
    assert "province.txt" in {c.doc for c in answer.citations}


def test_without_a_home_plan_a_question_naming_none_is_asked_of_every_plan():
    every = _assistant("")
    answer = every.ask("到2025年海上风电装机要达到多少？")
    assert not answer.abstained and "120万千瓦" in answer.answer


@pytest.mark.parametrize("home", ["district.txt", "district", "三亚市吉阳区碳达峰实施方案", "吉阳区"])
def test_the_home_plan_is_found_by_file_title_or_place(home):
    assert [p.doc for p in _assistant(home).shelf.home] == ["district.txt"]


def test_a_home_plan_that_is_not_loaded_is_refused_with_the_loaded_plans():
    with pytest.raises(SettingsError, match="PLANQA_HOME_PLAN.*district.txt"):
        _assistant("成都市")


def test_a_place_travelled_to_names_no_plan():
    assert places_named("区长去北京招商考察是哪几天？") == []
    assert places_named("四月底赴深圳考察的是谁？") == []
    assert places_named("北京2025年可再生能源比重是多少？") == ["北京市"]


ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / ".." / "shared" / "corpus-dev"
BULLETIN_QUESTIONS = [  # asked the way the bulletin's own officials ask: naming no plan
    "“十四五”末单位GDP能耗比2020年要降多少？",
    "减污降碳协同增效谁牵头？",
    "到2025年全区新能源汽车保有量要达到多少辆？",
    "区长去北京招商考察是哪几天？",
    "湖南惠农物流的光伏发电项目规模是多少？",
]


@pytest.mark.skipif(not DEV.is_dir(), reason="the dev corpus is read from ../shared/corpus-dev")
def test_the_bulletin_answers_the_same_with_twenty_other_plans_loaded_beside_it():
    alone = load_knowledge(ROOT / "corpus")
    documents = alone.documents + load_knowledge(DEV).documents
    together = build_knowledge(documents)
    home = alone.documents[0].name
    one = Assistant(alone, OverlapRetriever(alone), load_settings())
    many = Assistant(together, OverlapRetriever(together), load_settings(home_plan=home))
    for question in BULLETIN_QUESTIONS:
        expected, got = one.ask(question), many.ask(question)
        assert got.abstained == expected.abstained, question
        assert [c.quote for c in got.citations[:1]] == [c.quote for c in expected.citations[:1]], question


UNLOADED = [  # the bulletin alone is a district plan: none of these is its to answer
    "省里的森林覆盖率目标是多少？",
    "市里2025年非化石能源消费比重是多少？",
    "全省2025年非化石能源消费比重要达到多少？",
    "湖南省2025年非化石能源消费比重要达到多少？",
    "北京市2025年非化石能源消费比重要达到多少？",
    "隔壁县2025年非化石能源消费比重要达到多少？",
    "邻县的森林覆盖率目标是多少？",
    "省里和市里的森林覆盖率目标分别是多少？",
]


@pytest.fixture(scope="module")
def bulletin_alone() -> Assistant:
    alone = load_knowledge(ROOT / "corpus")
    return Assistant(alone, OverlapRetriever(alone), load_settings())


@pytest.mark.parametrize("question", UNLOADED)
def test_a_level_or_place_not_loaded_is_said_with_the_loaded_plans_never_the_districts_figure(bulletin_alone, question):
    answer = bulletin_alone.ask(question)
    title = bulletin_alone.shelf.plans[0].title
    assert answer.abstained and not answer.citations, answer.answer
    assert "未载入" in answer.answer and title in answer.answer
    assert not re.search(r"\d+(?:\.\d+)?%", answer.answer)  # no figure of the district's own


@pytest.mark.parametrize("question", ["全区2025年非化石能源消费比重是多少？", "我们区2025年非化石能源消费比重是多少？",
                                      "2025年非化石能源消费比重是多少？"])
def test_the_one_loaded_plan_still_answers_for_its_own_place(bulletin_alone, question):
    answer = bulletin_alone.ask(question)
    assert not answer.abstained and "27%" in answer.answer and "未载入" not in answer.answer


def test_a_loaded_level_with_one_not_loaded_answers_the_loaded_and_names_the_other(bulletin_alone):
    answer = bulletin_alone.ask("省里和我们区2025年非化石能源消费比重分别是多少？")
    assert "27%" in answer.answer and "未载入省级的方案" in answer.answer
