"""Any plan, not only the bundled one: its shape is read from its structure, its periods named right."""

from __future__ import annotations

import pytest

from assistant.answer import Assistant
from assistant.answer.periods import describe_target, period_label
from assistant.config import load_settings
from assistant.facts.knowledge import build_knowledge
from assistant.lang.periods import five_year_plan_name
from assistant.models import Document
from tests.conftest import OverlapRetriever

# A small plan of another county, shaped differently: its actions sit under "三、重点工作" and its
# last part is "四、保障措施"; its first goal is a “十三五” figure.
PLAN = """某县节能降碳实施方案
一、总体要求
坚持节约优先，推动全县绿色低碳发展。
二、主要目标
“十三五”期间，全县单位地区生产总值能耗累计下降16%。到2030年，非化石能源消费比重达到30%以上。
三、重点工作
全面实施能源转型和节能增效两大行动。
（一）能源转型行动
1.发展屋顶光伏。到2025年，屋顶光伏装机达到10万千瓦。（县发改局、县财政局按职责分工负责）
2.推进生物质利用。到2025年，秸秆综合利用率达到95%。（县农业农村局按职责分工负责）
（二）节能增效行动
1.改造公共建筑。到2025年，完成公共建筑节能改造20万平方米。（县住建局、县发改局按职责分工负责）
四、保障措施
（一）加强组织领导。成立工作专班，统筹推进各项工作。
（二）强化资金支持。县财政每年安排专项资金。
"""




@pytest.fixture(scope="module")
def county():
    knowledge = build_knowledge([Document("county-plan.txt", "county-plan.txt", PLAN, "0")])
    return Assistant(knowledge, OverlapRetriever(knowledge), load_settings())


def test_the_action_section_is_the_one_holding_the_tasks(county):
    assert county.plan.action_section == "三、重点工作"
    answer = county.ask("方案部署了哪些行动？")
    assert answer.intent == "list_actions"
    assert "“三、重点工作”共部署2大行动" in answer.answer and "（二）节能增效行动" in answer.answer


def test_parts_come_from_this_plans_outline(county):
    outline = county.ask("方案一共有几个部分？")
    assert "4个部分" in outline.answer and "四、保障措施" in outline.answer
    measures = county.ask("保障措施包括哪几条？")  # a section title no code knows
    assert measures.intent == "list_parts"
    assert "“四、保障措施”共2条" in measures.answer and "（二）强化资金支持" in measures.answer


def test_a_thirteenth_plan_target_is_not_called_fifteenth(county):
    answer = county.ask("单位地区生产总值能耗累计下降多少？")
    assert "16%" in answer.answer and not answer.abstained
    assert "“十三五”期间（2016-2020）" in answer.answer
    assert "十四五" not in answer.answer and "十五五" not in answer.answer


def test_period_names_are_counted_not_guessed(county):
    assert period_label("2016-2020") == "“十三五”期间（2016-2020）"
    assert period_label("2021-2025") == "“十四五”期间（2021-2025）"
    assert period_label("2026-2030") == "“十五五”期间（2026-2030）"
    assert five_year_plan_name(2018, 2022) == ""  # not a five-year plan's span: no name invented
    target = next(t for t in county.knowledge.targets if t.period)
    assert describe_target(target).startswith("“十三五”期间（2016-2020），")


@pytest.mark.parametrize(("name", "period"), [("十三五", "2016-2020"), ("十四五", "2021-2025"), ("十五五", "2026-2030"), ("十六五", "2031-2035")])
def test_one_five_year_plan_rule_for_facts_identity_and_answers(name, period):
    from assistant.facts.deadlines import extract_deadlines
    from assistant.lang.periods import five_year_plan_period

    assert five_year_plan_period(name) == period
    assert five_year_plan_name(*map(int, period.split("-"))) == name  # and back
    text = f"某某县“{name}”节能减排方案\n一、主要目标\n“{name}”期间，完成改造10个。"
    knowledge = build_knowledge([Document(name="plan.txt", path="plan.txt", text=text, sha256="")])
    assert knowledge.identities["plan.txt"].period == period
    assert {d.period for c in knowledge.clauses for d in extract_deadlines(c) if d.kind == "period"} == {period}
