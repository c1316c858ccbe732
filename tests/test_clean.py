from hypothesis import given
from hypothesis import strategies as st

from assistant.ingest.clean import (
    clean_document,
    fold_char,
    normalise_text,
    repeated_fragment_length,
    should_join,
)
from tests.conftest import clause_with


def test_page_break_mid_word_is_joined(knowledge):
    clause = clause_with(knowledge, "提高企业能源管理水平")
    assert clause.kind == "task"
    assert "全面提升节能管理水平" in clause.section


def test_repeated_fragment_across_page_break_appears_once(knowledge):
    clause = clause_with(knowledge, "推动重点领域绿色低碳技术攻关")
    units = knowledge.responsibilities[clause.id]
    assert units.original == (
        "区科技局", "区工业和信息化局", "区交通运输局", "区住房和城乡建设局", "区发展和改革局", "鹤城高新区管委会",
    )
    assert "建设局、建设局" not in clause.text


def test_no_clause_keeps_a_page_break_duplicate(knowledge):
    for clause in knowledge.clauses:
        for i in range(len(clause.text) - 8):
            piece = clause.text[i : i + 4]
            if "、" in piece and clause.text[i + 4 : i + 8] == piece:
                raise AssertionError(f"{clause.id} repeats {piece!r}")


def test_every_clause_span_slices_the_original(knowledge, bulletin_text):
    for clause in knowledge.clauses:
        assert len(clause.offsets) == len(clause.text)
        assert clause.start == clause.offsets[0] and clause.end == clause.offsets[-1] + 1
        for ch, offset in zip(clause.text, clause.offsets, strict=True):
            source = bulletin_text[offset]
            assert fold_char(source) == ch or (ch, source) == ("和", "a"), (clause.id, ch, source)


def test_numbers_and_widths_are_normalised(knowledge):
    clause = clause_with(knowledge, "力争全区新能源装机不低于16.24万千瓦")
    assert "到2025年" in clause.text and "6.24万千瓦" in clause.text and "国六B标准" not in clause.text
    assert normalise_text("（一）到 2025 年，１２％") == "(一)到2025年,12%"


def test_headings_and_titles_are_not_glued():
    text = "怀化市鹤城区碳达峰实施方案\n\n一、总体要求\n\n（一）能源绿色低碳转型行动\n\n在保障能源安全的前提下,实施能源消费。"
    assert [p.text for p in clean_document(text)] == [
        "怀化市鹤城区碳达峰实施方案", "一、总体要求", "(一)能源绿色低碳转型行动", "在保障能源安全的前提下,实施能源消费。",
    ]


def test_join_rules():
    assert should_join("鼓励企业按照能源管理体系要求,组建能源管理团队,提高企业能", "源管理水平;")
    assert not should_join("鼓励企业按照能源管理体系要求,组建能源管理团队。", "源管理水平;")
    assert not should_join("鼓励企业按照能源管理体系要求,组建能源管理团队,提高企业能", "2. 大力发展可再生能源。")
    assert repeated_fragment_length("区住房和城乡建设局、", "建设局、区发展和改革局") == 4
    assert repeated_fragment_length("的", "的确") == 0


@given(st.text(alphabet=st.sampled_from(list("到2025年，,（(一)）\n \u3000 ６.％%和and能源、局建设。") ), max_size=200))
def test_cleaning_never_raises_and_spans_slice_the_original(text):
    for paragraph in clean_document(text):
        assert len(paragraph.offsets) == len(paragraph.text)
        for ch, offset in zip(paragraph.text, paragraph.offsets, strict=True):
            assert fold_char(text[offset]) == ch or (ch, text[offset]) == ("和", "a")


def test_one_rule_ends_a_task_at_its_units_for_cleaning_and_structure():
    """"(责任单位:…)" closes a task as "(…负责)" does: the next line is not glued to it, nor read into the task."""
    from assistant.facts.knowledge import build_knowledge
    from assistant.models import Document

    text = ("一、重点任务\n（一）推进节能改造\n1.推进节能改造。到2025年，完成甲类设施节能改造10个。（责任单位：甲市财政局）\n"
            "各相关单位要加强统筹协调并及时报送工作进展情况")
    assert [p.text[-7:] for p in clean_document(text)][-2:] == ["(责任单位:甲市财政局)"[-7:], "及时报送工作进展情况"[-7:]]
    knowledge = build_knowledge([Document(name="plan.txt", path="plan.txt", text=text, sha256="")])
    (task,) = knowledge.tasks()
    assert task.text.endswith("(责任单位:甲市财政局)")


def test_questions_and_documents_fold_traditional_characters_alike():
    from assistant.lang.asking import read_question

    written = "到2025年，單位地區生產總值能源消耗比2020年下降多少？"
    assert normalise_text(read_question(written).text) == normalise_text(written) == normalise_text(written.replace("單位地區生產總值", "单位地区生产总值"))
