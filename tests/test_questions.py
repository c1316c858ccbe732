"""Reading questions as officials write them (assistant/lang/asking.py): small synthetic inputs."""

import re

import pytest

from assistant.answer.question import with_context
from assistant.lang.asking import complete_follow_up, fold_widths, is_elliptical, read_question, split_parts
from assistant.office.layout import classify_row

PLAIN = "森林覆盖率2025年目标是多少？"


@pytest.mark.parametrize(
    "written",
    [
        f"1、{PLAIN}",
        f"1. {PLAIN}",
        f"（1）{PLAIN}",
        f"(12) {PLAIN}",
        f"①{PLAIN}",
        f"一、{PLAIN}",
        f"问题3：{PLAIN}",
        f"第3题：{PLAIN}",
        f"Q3 {PLAIN}",
        f"{PLAIN}（第9题）",
        f"{PLAIN}(9)",
        f"请问{PLAIN}",
        f"麻烦问一下，{PLAIN}",
        f"３．请问{PLAIN}请附出处",
        f"  {PLAIN}  ",
        "森林覆蓋率2025年目標是多少？",
    ],
)
def test_labels_courtesies_and_traditional_characters_fall_away(written: str) -> None:
    assert read_question(written).text == PLAIN


def test_what_was_removed_is_kept_and_never_matched() -> None:
    asked = read_question("３．请问森林覆盖率2025年目标是多少？（第9题）")
    assert asked.written.startswith("３．")
    assert asked.label == "3． （第9题）"
    assert asked.removed == ("请问",)
    assert "9" not in asked.text and "3" not in asked.text.replace("2025", "")


@pytest.mark.parametrize(
    "question",
    ["2025年非化石能源消费比重是多少？", "第49次常务会议研究了哪些议题？", "1.3是哪个指标的要求？", "2030年前完成哪些任务？"],
)
def test_numbers_that_belong_to_the_question_stay(question: str) -> None:
    assert read_question(question).text == question


def test_english_questions_map_onto_the_plans_terms() -> None:
    asked = read_question("What is the 2025 target for the non-fossil energy share?")
    assert asked.language == "en"
    assert "2025年" in asked.text and "非化石能源消费比重" in asked.text
    assert "谁牵头" in read_question("Who leads the renovation of old residential areas?").text


def test_mixed_terms_are_still_chinese() -> None:
    assert read_question("数据中心PUE要求是多少？").language == "zh"


def test_multi_part_questions_split_by_year_and_by_ask() -> None:
    assert split_parts("2025年和2030年的非化石能源比重分别是多少？") == [
        "2025年的非化石能源比重是多少？",
        "2030年的非化石能源比重是多少？",
    ]
    assert split_parts("老旧小区改造谁牵头、什么时候完成？") == ["老旧小区改造谁牵头？", "老旧小区改造什么时候完成？"]
    assert split_parts(PLAIN) == [PLAIN]


@pytest.mark.parametrize("question", ["那2030年呢？", "它由谁牵头？", "这项任务什么时候完成？", "2030年？", "发改局呢？"])
def test_elliptical_follow_ups(question: str) -> None:
    assert is_elliptical(question)


@pytest.mark.parametrize("question", [PLAIN, "老旧小区改造由哪个单位牵头？", "某区2035年的GDP目标是多少？"])
def test_complete_questions_stand_alone(question: str) -> None:
    assert not is_elliptical(question)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [(None, "空行"), ("  ", "空行"), ("=SUM(C2:C9)", "公式"), ("合计", "合计行"), ("填表说明：请逐项填写", "说明"), ("二、能源结构", "分节标题")],
)
def test_rows_that_are_not_questions_are_skipped_with_a_reason(cell: object, reason: str) -> None:
    kind = classify_row(cell)
    assert not kind.is_question and kind.reason.startswith(reason)


def test_a_question_row_is_a_question() -> None:
    assert classify_row("一、森林覆盖率2025年目标是多少？").is_question


def test_pairs_of_numbered_things_split_into_parts() -> None:
    assert split_parts("第50次和第51次常务会议分别是哪天开的？") == ["第50次常务会议是哪天开的？", "第51次常务会议是哪天开的？"]
    assert split_parts("中心城区300米和500米公交站点覆盖率分别要达到多少？") == [
        "中心城区300米公交站点覆盖率要达到多少？",
        "中心城区500米公交站点覆盖率要达到多少？",
    ]
    assert split_parts("300米和500米的站点有几个？") == ["300米和500米的站点有几个？"]  # no 分别: one question


def test_a_follow_up_takes_the_earlier_ask_or_topic() -> None:
    assert complete_follow_up("那垃圾分类呢？", "老旧小区改造谁牵头？") == "垃圾分类谁牵头？"
    assert complete_follow_up("建筑垃圾呢？", "工业固废综合利用率2025年要达到多少？") == "建筑垃圾2025年要达到多少？"
    assert complete_follow_up("它由谁牵头？", "老旧小区改造的数量目标是多少？") == "老旧小区改造的数量目标由谁牵头？"


def test_english_words_outside_the_glossary_are_dropped_but_acronyms_stay() -> None:
    text = read_question("What annual average PM2.5 concentration should the urban area reach by 2025?").text
    assert "PM2.5" in text and "2025年" in text and not re.search(r"[a-z]{3,}", text)
    assert "第50次常务会议" in read_question("On which day was the 50th executive meeting held?").text


@pytest.mark.parametrize(
    ("follow_up", "previous", "read"),
    [
        ("资源化利用率呢？", "2025年城市生活垃圾无害化处置率要求多少？", "2025年城市生活垃圾资源化利用率要求多少？"),
        ("那湿地保护率呢？", "到2025年全区森林覆盖率要达到多少？", "到2025年全区湿地保护率要达到多少？"),
    ],
)
def test_a_sibling_indicator_replaces_the_earlier_one_rather_than_standing_beside_it(follow_up, previous, read):
    """Kept beside it, the earlier indicator matched first and its figure answered the follow-up."""
    assert complete_follow_up(follow_up, previous) == read


OUTLINE_LABELS = ["1.1", "1.1.2", "2.3、", "2-3", "(1)", "①", "一、", "第一项", "问题1.2：", "１．１", "２．３、", "２－３", "（１）", "第３项："]


@pytest.mark.parametrize("label", OUTLINE_LABELS)
@pytest.mark.parametrize("space", ["", " ", "\u3000"])
def test_every_outline_label_is_kept_apart_from_the_question(label: str, space: str) -> None:
    question = "到2025年森林覆盖率目标是多少？"
    asked = read_question(f"{label}{space}{question}")
    assert asked.text == question
    assert asked.label.replace(" ", "") == fold_widths(label).replace(" ", "")


@pytest.mark.parametrize("question", ["1.3的PUE是多少？", "2-3个项目由谁牵头？", "1.1到1.3之间的是哪个指标？", "1.5倍是多少？"])
def test_figures_that_look_like_outline_numbers_stay(question: str) -> None:
    assert read_question(question).text == question


@pytest.mark.parametrize(
    ("written", "label", "text"),
    [("1.12030年森林覆盖率目标是多少？", "1.1", "2030年森林覆盖率目标是多少？"), ("4.24月3日的会议有哪些议题？", "4.2", "4月3日的会议有哪些议题？")],
)
def test_a_date_straight_after_an_outline_number_ends_the_label(written: str, label: str, text: str) -> None:
    asked = read_question(written)
    assert (asked.label, asked.text) == (label, text)


def test_an_ideographic_space_after_a_label_survives_validation() -> None:
    from assistant.answer.question import validate

    assert read_question(validate("１．１\u3000２０３０年森林覆盖率目标是多少？", 500)).text == "2030年森林覆盖率目标是多少？"


@pytest.mark.parametrize(
    ("follow_up", "previous", "read"),
    [  # the intent from the follow-up's own words, the subject from the question before it
        ("那什么时候完成？", "老旧小区改造谁牵头？", "老旧小区改造什么时候完成？"),
        ("那牵头单位是谁？", "2025年非化石能源消费比重是多少？", "非化石能源消费比重牵头单位是谁？"),
        ("那由哪个部门负责呢？", "到2025年新能源汽车保有量要达到多少辆？", "新能源汽车保有量由哪个部门负责？"),
        ("那2030年呢？", "老旧小区改造谁牵头？", "到2030年老旧小区改造的目标是多少？"),
        ("那2030年呢？", "2025年非化石能源消费比重是多少？", "2030年非化石能源消费比重是多少？"),
        ("那2030年呢？", "非化石能源消费比重的目标是多少？", "2030年非化石能源消费比重的目标是多少？"),
    ],
)
def test_a_follow_up_asks_its_own_question_of_the_earlier_subject(follow_up, previous, read):
    assert with_context(follow_up, [previous]) == read


def test_a_multi_part_question_split_at_its_question_marks() -> None:
    assert split_parts("2025年非化石能源消费比重目标是多少？由哪些单位负责？") == [
        "2025年非化石能源消费比重目标是多少？",
        "2025年非化石能源消费比重目标由哪些单位负责？",
    ]


def test_a_second_ask_that_details_the_first_is_no_part_of_its_own() -> None:
    question = "4到6月区政府一共开了几次常务会议？各是哪天？"
    assert split_parts(question) == [question]


def test_a_part_with_a_subject_of_its_own_keeps_it() -> None:
    assert split_parts("2025年森林覆盖率是多少？2030年的碳排放目标是多少？") == [
        "2025年森林覆盖率是多少？",
        "2030年的碳排放目标是多少？",
    ]
