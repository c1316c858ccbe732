"""Questions as officials write them, through the whole answering chain (issue 13's situations)."""

import re

import pytest

from assistant.facts.knowledge import ledger_rows
from assistant.ingest.clean import normalise_text

PLAIN = "到2025年非化石能源消费比重要达到多少？"


def same(a, b):
    return (a.answer, a.abstained, [c.clause_id for c in a.citations]) == (b.answer, b.abstained, [c.clause_id for c in b.citations])


@pytest.mark.parametrize(
    "written",
    [f"1、{PLAIN}", f"3. {PLAIN}", f"问题3：{PLAIN}", f"{PLAIN}（第9题）", f"Q12 {PLAIN}", f"（2）请问{PLAIN}请附出处",
     "到2025年非化石能源消費比重要達到多少？"],
)
def test_numbered_polite_and_traditional_forms_answer_as_the_plain_question(assistant, written):
    answer, plain = assistant.ask(written), assistant.ask(PLAIN)
    assert not answer.abstained and "27%以上" in answer.answer
    assert answer.answer == plain.answer and answer.citations == plain.citations
    assert answer.question == written  # the question as written is kept


def test_the_item_number_never_matches_a_figure(assistant):
    # "5、" must not read as the figure 5 asked about, nor 12 as a year or count
    answer = assistant.ask("12、城市生活污水集中收集率2025年要达到多少？")
    plain = assistant.ask("城市生活污水集中收集率2025年要达到多少？")
    assert same(answer, plain) and not answer.abstained


def test_a_complete_question_is_answered_as_if_asked_first(assistant):
    question = "鹤城区2035年的GDP目标是多少？"
    alone = assistant.ask(question)
    after = assistant.ask(question, [("老旧小区改造由哪个单位牵头？", "由区住房和城乡建设局牵头")])
    assert alone.abstained and same(alone, after) and "住房" not in after.answer
    complete = "到2025年新能源汽车新车销量要占新车总销量的多少？"
    assert same(assistant.ask(complete), assistant.ask(complete, [("老旧小区改造谁牵头？", "")]))


def test_an_elliptical_follow_up_is_read_with_the_conversation(assistant):
    history = [("2025年非化石能源消费比重是多少？", "")]
    answer = assistant.ask("那2030年呢？", history)
    assert "31%" in answer.answer and not answer.abstained
    other_topic = assistant.ask("那垃圾分类回收利用呢？", [("老旧小区改造谁牵头？", "")])
    assert other_topic.intent == "responsible" and "区环境卫生服务中心" in other_topic.answer
    reference = assistant.ask("它由谁牵头？", [("老旧小区改造的数量目标是多少？", "")])
    assert "区住房和城乡建设局" in reference.answer
    assert assistant.ask("那2030年呢？").abstained or "31%" not in assistant.ask("那2030年呢？").answer


def test_multi_part_questions_are_answered_part_by_part_each_cited(assistant):
    answer = assistant.ask("2025年和2030年的非化石能源消费比重分别是多少？")
    assert "27%" in answer.answer and "31%" in answer.answer and not answer.abstained
    quotes = " ".join(c.quote for c in answer.citations)
    assert "27%" in quotes and "31%" in quotes
    meetings = assistant.ask("第50次和第51次区政府常务会议分别是哪天开的？")
    assert "4月29日" in meetings.answer and "5月17日" in meetings.answer and len(meetings.citations) == 2


def test_direction_words_are_told_not_only_quoted(assistant, knowledge):
    answer = assistant.ask("单位GDP能耗到2025年要下降多少？")
    told = re.sub(r"（原文：.*?）", "", answer.answer)
    assert "下降14.5%" in told and "力争下降15%" in told
    rows = [r for r in ledger_rows(knowledge, year=2025) if r.indicator == "单位GDP能耗"]
    assert [r.statement for r in rows] == ["较2020年下降14.5%", "较2020年力争下降15%"]
    assert all("下降" in r.direction for r in rows)
    for row in ledger_rows(knowledge):  # a direction word right before the figure is in the row's direction
        stated = re.search(rf"(下降|降低|提高|增长|控制在|不低于|不高于)到?{re.escape(row.value)}", normalise_text(row.quote))
        assert not stated or stated.group(1) in row.direction, row


def test_a_month_the_chronicle_does_not_cover_abstains_naming_what_it_covers(assistant):
    answer = assistant.ask("7月份区政府召开第53次常务会议是哪天？")
    assert answer.abstained and "2024年4月" in answer.answer and "2024年6月" in answer.answer
    assert assistant.ask("2023年4月2日区长主持了什么会议？").abstained
    assert not assistant.ask("4月2日区长主持召开了什么会议？").abstained


def test_english_questions_are_answered_in_chinese_with_the_same_citations(assistant):
    english = assistant.ask("What is the 2025 target for the share of non-fossil energy in energy consumption?")
    chinese = assistant.ask(PLAIN)
    assert not english.abstained and "27%以上" in english.answer
    assert english.citations == chinese.citations
    lead = assistant.ask("Which department leads the renovation of old residential compounds?")
    assert "区住房和城乡建设局" in lead.answer


def test_meetings_counted_and_listed_over_a_period(assistant):
    answer = assistant.ask("4到6月大事记里区政府一共开了几次常务会议？各是哪天？")
    assert answer.answer.startswith("共4次") and not answer.abstained
    assert all(day in answer.answer for day in ("4月2日", "4月29日", "5月17日", "6月21日"))
    assert len(answer.citations) == 4
    may = assistant.ask("5月份开了几次常务会议？")
    assert may.answer.startswith("共1次") and "5月17日" in may.answer


def test_the_tasks_of_one_action_not_the_list_of_actions(assistant):
    answer = assistant.ask("节能降碳增效行动有哪些任务？")
    assert "节能降碳增效行动共有5项任务" in answer.answer and "能源绿色低碳转型行动" not in answer.answer
    assert len(answer.citations) == 5


def test_a_list_of_targets_keeps_each_direction(assistant):
    answer = assistant.ask("2025年有哪些目标？")
    assert "单位GDP能耗较2020年下降14.5%" in answer.answer and "单位GDP能耗较2020年力争下降15%" in answer.answer


def test_a_question_is_normalised_once_per_ask(assistant, monkeypatch):
    """Read once (lang.asking), normalised once per part; scoping, the plans named and parsing share that text."""
    import assistant.answer.assistant as asking_module
    from assistant.answer import question as question_module

    seen: list[str] = []
    real = question_module.normalise

    def counting(text: str) -> str:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(asking_module, "normalise", counting)
    monkeypatch.setattr(question_module, "normalise", counting)
    first = "到2025年非化石能源消费比重要达到多少？"
    assistant.ask(first)
    assert seen == [first]
    seen.clear()
    assistant.ask("那2030年呢？", history=[(first, "…")])
    assert sorted(seen) == sorted(["那2030年呢？", first])  # the question and the one earlier question it leans on


LEAD = "老旧小区改造谁牵头？"


def test_a_follow_up_of_another_kind_asks_its_own_question(assistant):
    lead = assistant.ask(LEAD)
    when = assistant.ask("那什么时候完成？", [(LEAD, lead.answer)])
    assert when.intent == "deadline" and not when.abstained and "2025年" in when.answer
    assert when.answer != lead.answer and "牵头" not in when.answer
    later = assistant.ask("那2030年呢？", [(LEAD, lead.answer)])
    assert later.answer != lead.answer and later.intent != "responsible"
    target = "2025年非化石能源消费比重是多少？"
    unit = assistant.ask("那牵头单位是谁？", [(target, assistant.ask(target).answer)])
    assert unit.intent == "responsible" and not unit.abstained and "牵头" in unit.answer
    assert all("大事记" not in c.section for c in unit.citations)


def test_a_multi_part_question_answers_every_part(assistant):
    answer = assistant.ask("2025年非化石能源消费比重目标是多少？由哪些单位负责？")
    assert "27%" in answer.answer and "牵头" in answer.answer and not answer.abstained
    both = assistant.ask("老旧小区改造谁牵头、什么时候完成？")
    assert "区住房和城乡建设局" in both.answer and "2025年" in both.answer and not both.abstained


def test_a_multi_part_question_is_stated_only_when_every_part_is(assistant):
    answer = assistant.ask("2025年非化石能源消费比重是多少？鹤城区2035年的GDP目标是多少？")
    assert "27%" in answer.answer  # the part stated is still told
    assert answer.abstained  # 方案是否明确 = 否: one part is not in the plan


def test_every_example_button_is_answered_by_the_loaded_plan(assistant):
    from assistant.web.page import EXAMPLES

    for question in EXAMPLES:
        answer = assistant.ask(question)
        assert not answer.abstained and answer.citations, question
