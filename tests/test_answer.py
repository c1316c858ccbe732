"""The answering chain on the real bulletin: one test per kind of question users ask."""

import pytest

from assistant.answer import QuestionError
from assistant.ingest.clean import normalise_text


def ask(assistant, question, history=None):
    return assistant.ask(question, history)


def test_target_with_year_and_qualifier(assistant, bulletin_text):
    answer = ask(assistant, "到2025年非化石能源消费比重要达到多少？")
    assert "27%以上" in answer.answer and not answer.abstained and answer.intent == "target"
    citation = answer.citations[0]
    assert citation.section == "二、主要目标"
    # The span indexes the file as stored (read here independently), and it is the stating sentence.
    quoted = bulletin_text[citation.start : citation.end]
    assert quoted == citation.quote
    assert "非化石能源消费比重提高到27%以上" in normalise_text(quoted)
    assert normalise_text(quoted).count("。") == 1  # one sentence, not the whole clause


def test_baseline_and_strive_figure(assistant):
    answer = ask(assistant, "单位GDP能耗比2020年要下降多少？")
    assert "14.5%" in answer.answer and "力争" in answer.answer and "15%" in answer.answer


def test_chinese_numerals_and_synonyms(assistant):
    assert "16.24万千瓦" in ask(assistant, "新能源装机到二〇二五年要达到多少万千瓦？").answer
    assert "不高于1.3" in ask(assistant, "新建大型数据中心的PUE要控制在多少？").answer


def test_responsible_units_lead_first_and_aliases(assistant):
    answer = ask(assistant, "老旧小区改造由哪些部门负责？")
    assert answer.intent == "responsible"
    assert answer.answer.index("区住房和城乡建设局") < answer.answer.index("区城市管理和综合执法局")
    tasks = ask(assistant, "林业局负责哪些任务？")
    assert tasks.intent == "unit_tasks" and "碳汇补偿机制" in tasks.answer


def test_deadline(assistant):
    answer = ask(assistant, "什么时候基本淘汰国三及以下排放标准汽车？")
    assert answer.intent == "deadline" and "到2025年" in answer.answer


def test_aggregations(assistant):
    actions = ask(assistant, "碳达峰十大行动是哪些？")
    assert "（十）绿色金融支撑转型行动" in actions.answer and "10大行动" in actions.answer
    count = ask(assistant, "交通物流行动有几项任务？")
    assert "4项任务" in count.answer
    by_year = ask(assistant, "哪些目标要在2030年前实现？")
    assert "31%以上" in by_year.answer and "65%" in by_year.answer


def test_conflicting_statements_are_both_shown(assistant):
    answer = ask(assistant, "全区森林覆盖率要达到多少？")
    assert "67%以上" in answer.answer and "61.86%以上" in answer.answer
    assert len(answer.citations) == 2


def test_chronicle_and_front_matter(assistant):
    advisers = ask(assistant, "4月12日聘任了几名兼职法律顾问？")
    assert "4人" in advisers.answer and advisers.citations[0].clause_id.endswith("e2024-04.06")
    assert "鹤政函〔2024〕1号" in ask(assistant, "这个方案的文号是多少？").answer
    assert "2024年3月27日" in ask(assistant, "方案是哪天印发的？").answer


def test_follow_up_reuses_the_topic(assistant):
    answer = ask(assistant, "那2030年呢？", history=[("到2025年非化石能源消费比重要达到多少？", "27%以上")])
    assert "31%以上" in answer.answer


@pytest.mark.parametrize(
    "question",
    ["到2035年非化石能源消费比重要达到多少？", "全区湿地保护率要达到多少？", "单位GDP二氧化碳排放降幅是多少？"],
)
def test_abstains_instead_of_guessing(assistant, question):
    answer = ask(assistant, question)
    assert answer.abstained and answer.answer.startswith("方案中未明确")
    assert answer.citations  # the nearest clause, as a pointer


@pytest.mark.parametrize("question", ["", "   ", "问" * 5000])
def test_bad_questions_are_clear_errors(assistant, question):
    with pytest.raises(QuestionError, match="question"):
        ask(assistant, question)


def test_unit_spelled_two_ways_is_explained(assistant):
    answer = ask(assistant, "供电公司在方案里的正式名称是什么？")
    assert answer.intent == "unit_names"
    assert "国网怀化供电鹤城分公司" in answer.answer and "国网怀化鹤城供电分公司" in answer.answer
    assert len(answer.citations) == 2


def test_chronicle_ordinals_must_match(assistant):
    assert ask(assistant, "推动经济高质量发展专题培训班第一期在哪里办的？").abstained
    assert "浙江大学" in ask(assistant, "推动经济高质量发展专题培训班第二期在哪开的班？").answer


def test_figures_of_the_wrong_kind_are_not_answers(assistant):
    assert ask(assistant, "到2025年全区新能源汽车保有量要达到多少辆？").abstained
    assert "450" in ask(assistant, "凉亭坳乡污水处理站的处理规模是多少？").answer


def test_quote_is_the_part_that_states_the_figure(assistant):
    answer = ask(assistant, "畜禽粪污资源化利用率到2025年达到多少？")
    assert "90%以上" in answer.answer and "原文：畜禽粪污资源化利用率达到90%以上" in answer.answer
    assert "力争达到50%" in ask(assistant, "屋顶光伏覆盖率目标是多少？").answer


def test_non_numeric_questions_get_the_sentence(assistant):
    answer = ask(assistant, "2025年城镇新建建筑要执行什么标准？")
    assert "绿色建筑标准" in answer.answer and not answer.abstained
    outline = ask(assistant, "碳达峰方案一共有几个部分？")
    assert "五、组织实施" in outline.answer and "5个部分" in outline.answer


def test_lead_only_front_matter_people_and_vague_questions(assistant):
    finance = ask(assistant, "哪些任务由区财政局牵头？")
    assert "牵头的任务共1项" in finance.answer and "完善财税价格支持政策" in finance.answer
    assert "杨曜徽" in ask(assistant, "公报的主任是谁？").answer
    assert ask(assistant, "全区人口多少？").abstained


def test_subject_stated_clauses_before_the_figure(assistant):
    answer = ask(assistant, "芦坪、贺家田、黄岩三座集镇污水处理厂配套的污水管网总长多少？")
    assert "10km" in answer.answer and "3.8km" not in answer.answer


def test_a_measure_the_question_states_picks_its_own_figure(assistant):
    """"500米" asked: the 300米 figure of the same sentence is not the answer, though it shares more words."""
    answer = ask(assistant, "中心城区500米公交站点覆盖率要达到多少？")
    assert "90%" in answer.answer and "70%" not in answer.answer


def test_a_named_indicator_wins_over_its_neighbour_in_a_list(assistant):
    """"A达到100%、B达到60%以上": B's subject stayed with A, yet a question naming B is about B's figure."""
    answer = ask(assistant, "2025年城市生活垃圾资源化利用率要达到多少？")
    assert "60%" in answer.answer.split("（原文")[0] and "以上" in answer.answer
