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
