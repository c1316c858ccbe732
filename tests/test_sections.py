"""What a named part of a plan says, and whether a plan speaks of something: on a small synthetic plan
(words no eval question uses) and on the real bulletin."""

import pytest

from assistant.answer import Assistant
from assistant.config import load_settings
from assistant.facts.knowledge import build_knowledge
from assistant.models import Document
from tests.conftest import OverlapRetriever

PLAN = """某市海岸带保护行动方案
一、总体要求
（一）指导思想
坚持陆海统筹，守住海岸带生态底线，推动沿海产业向绿色低碳转型。
（二）工作原则
保护优先、分类施策、系统治理。
二、主要目标
到2027年，自然岸线保有率不低于35%，近岸海域水质优良比例达到90%以上。
三、重点行动
（一）滨海湿地修复行动
1.开展退养还滩。清退违规养殖围塘，恢复潮间带湿地。（市自然资源局牵头）
2.建设红树林示范区。到2027年，新增红树林面积200公顷。（市林业局牵头）
（二）海岸污染治理行动
1.整治入海排污口。完成入海排污口溯源整治。（市生态环境局牵头）
四、保障措施
（一）强化资金保障
统筹海岸带保护资金，鼓励社会资本参与海岸带修复项目，探索蓝色债券融资。
"""


@pytest.fixture(scope="module")
def coast():
    knowledge = build_knowledge([Document("coast-plan.txt", "coast-plan.txt", PLAN, "0")])
    return Assistant(knowledge, OverlapRetriever(knowledge), load_settings())


def test_a_section_named_by_its_heading_answers_with_its_text(coast):
    answer = coast.ask("方案的指导思想是怎么表述的？")
    assert "陆海统筹" in answer.answer and not answer.abstained
    assert answer.citations[0].section == "一、总体要求 > （一）指导思想"
    assert "（一）指导思想" not in answer.answer.split("：", 1)[-1]  # the heading is not the answer


def test_a_subsection_deep_in_the_outline_is_found_by_its_own_words(coast):
    answer = coast.ask("保障措施里资金保障具体有哪些？")
    assert "蓝色债券" in answer.answer and answer.citations[0].section.endswith("（一）强化资金保障")


def test_an_action_named_with_other_words_than_tasks_lists_its_tasks(coast):
    for asked in ("滨海湿地修复行动有哪些具体措施？", "滨海湿地修复行动主要包括哪些内容？"):
        answer = coast.ask(asked)
        assert "退养还滩" in answer.answer and "红树林示范区" in answer.answer and "排污口" not in answer.answer


def test_all_actions_asked_for_still_lists_the_actions(coast):
    answer = coast.ask("方案部署了哪些行动？")
    assert "滨海湿地修复行动" in answer.answer and "海岸污染治理行动" in answer.answer


def test_a_figure_asked_of_a_named_section_is_a_target_question(coast):
    answer = coast.ask("滨海湿地修复行动对红树林面积有什么目标？")
    assert "200公顷" in answer.answer and answer.intent == "target"


def test_a_thing_the_plan_speaks_of_is_answered_yes_with_its_sentence(coast):
    answer = coast.ask("方案有没有提到红树林？")
    assert answer.answer.startswith("有") or "有。" in answer.answer
    assert "红树林" in answer.citations[0].quote and not answer.abstained


def test_a_thing_the_plan_never_names_is_not_stated(coast):
    for asked in ("方案有没有提到海上风电？", "方案提到海水淡化了吗？"):
        assert coast.ask(asked).abstained


def test_a_figure_asked_yes_or_no_needs_a_figure(coast):
    assert coast.ask("方案对入海排污口整治有没有量化目标？").abstained


def test_bulletin_subsection_content_and_mentions(assistant):
    policy = assistant.ask("政策保障里完善财税价格支持政策具体有哪些？")
    assert "阶梯电价" in policy.answer and not policy.abstained
    new_infra = assistant.ask("节能降碳方面有没有提到数据中心的能效要求？")
    assert "1.3" in new_infra.answer and "有" in new_infra.answer
    assert assistant.ask("方案有没有提到海上风电？").abstained


def test_a_section_without_the_year_asked_does_not_answer_for_it(coast):
    assert coast.ask("主要目标里2035年要达到什么？").abstained
    assert "35%" in coast.ask("主要目标是什么？").answer


def test_mention_asked_as_ti_dao_ma(coast):
    assert coast.ask("方案提到潮间带湿地恢复吗？").answer.startswith("有")
    assert coast.ask("方案提到核电发展吗？").abstained
