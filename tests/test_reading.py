"""Reading any plan: unit statements, deadlines, 分别 lists, traditional text, preamble facts, page damage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.facts.knowledge import build_knowledge
from assistant.ingest.clean import clean_document, fold_char, normalise_text
from assistant.ingest.load import load_document
from assistant.lang.text import simplified_char
from assistant.models import Document

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / ".." / "shared" / "corpus-dev"
needs_dev = pytest.mark.skipif(not DEV.is_dir(), reason="the development corpus ../shared/corpus-dev is not here")


def read(text: str):
    return build_knowledge([Document(name="snippet.txt", path="snippet.txt", text=text, sha256="")])


def only_units(text: str):
    (responsibility,) = read(text).responsibilities.values()
    return responsibility


TASK = "一、重点任务\n（一）推进节能改造\n1.推进节能改造。到2025年，完成改造10个。"


@pytest.mark.parametrize(
    ("statement", "leads", "supporting"),
    [
        ("（甲市发展改革委、甲市工业和信息化局按职责分工负责）", ("甲市发展改革委",), ("甲市工业和信息化局",)),
        ("（责任单位：甲市发展改革委、甲市财政局）", ("甲市发展改革委",), ("甲市财政局",)),
        ("(責任單位:甲市發展改革委、甲市財政局)", ("甲市发展改革委",), ("甲市财政局",)),
        ("（牵头单位：甲市财政局；配合单位：甲市商务局、甲市统计局）", ("甲市财政局",), ("甲市商务局", "甲市统计局")),
        ("（牵头单位:能源局 参加单位:发展改革委、国资委）", ("能源局",), ("发展改革委", "国资委")),
        ("（负责部门：甲市商务局）", ("甲市商务局",), ()),
        ("（甲市商务局牵头，甲市财政局、甲市统计局参与）", ("甲市商务局",), ("甲市财政局", "甲市统计局")),
        ("（国家发展改革委、财政部等负责。列第一位者为牵头单位）", ("国家发展改革委",), ("财政部",)),
        ("\n责任单位：甲市商务局、甲市财政局", ("甲市商务局",), ("甲市财政局",)),
        ("（甲市人力资源和社会保障局、甲市教育局按职责分工负责）", ("甲市人力资源和社会保障局",), ("甲市教育局",)),
    ],
)
def test_unit_statement_forms(statement, leads, supporting):
    responsibility = only_units(TASK + statement)
    assert (responsibility.leads, responsibility.supporting) == (leads, supporting)


def test_no_lead_when_the_plan_says_so():
    responsibility = only_units(TASK + "（负责单位：发展改革委、能源局。未明确牵头单位的，由所列负责单位按职责分工负责）")
    assert responsibility.leads == () and responsibility.supporting == ("发展改革委", "能源局")


def test_units_found_in_any_paragraph_and_an_unclosed_statement():
    knowledge = read("为推进工作，制定本方案。\n一、总体要求\n坚持节约优先，推动绿色发展。（甲市发展改革委、甲市能源局等按职责分工负责，各区人民政府")
    (responsibility,) = knowledge.responsibilities.values()
    assert responsibility.leads == ("甲市发展改革委",) and "各区人民政府" in responsibility.supporting


@pytest.mark.parametrize(
    ("sentence", "kind", "year", "phrase"),
    [
        ("2022年起，全面推行绿色采购。", "from", 2022, "2022年起"),
        ("到2030 年，非化石能源消费比重达到25%。", "by", 2030, "到2030年"),
        ("2024年6月底前，完成排查。", "by", 2024, "2024年6月底前"),
        ("每年3月31日前报送上年度情况。", "annual", None, "每年3月31日前"),
        ("收到申请后15个工作日内办结。", "within", None, "15个工作日内"),
        ("三年内完成全部改造。", "within", None, "三年内"),
        ("“十五五”期间，能耗强度持续下降。", "period", 2030, "“十五五”期间"),
    ],
)
def test_deadline_forms(sentence, kind, year, phrase):
    (deadline,) = read("一、主要任务\n" + sentence).deadlines
    assert (deadline.kind, deadline.year, deadline.phrase) == (kind, year, phrase)


def test_no_deadline_inside_a_quoted_title():
    assert not read("一、总体要求\n根据《2030年前碳达峰行动方案》，制定本方案。").deadlines


def test_respectively_pairs_item_by_item():
    targets = read("二、主要目标\n到2025年，化学需氧量、氨氮、氮氧化物重点工程减排量分别达1.5万吨、0.9万吨和7.3万吨。").targets
    assert [(t.indicator, t.value_text, t.unit) for t in targets] == [
        ("化学需氧量", "1.5", "万吨"), ("氨氮", "0.9", "万吨"), ("氮氧化物重点工程减排量", "7.3", "万吨")]


def test_figure_followed_by_de_and_counts_in_chinese_numerals():
    knowledge = read("二、主要目标\n到2025年，能耗下降13%，力争完成14.5%的激励目标，建成三个零碳园区。")
    found = {(t.value_text, t.unit) for t in knowledge.targets}
    assert {("13", "%"), ("14.5", "%"), ("3", "个")} <= found


def test_preamble_and_digest_text_yield_facts():
    knowledge = read("近日，某市印发《某市碳达峰实施方案》。方案提出，到2025年，非化石能源消费比重达到20%。\n（此件公开发布）")
    assert [(t.year, t.value_text) for t in knowledge.targets] == [(2025, "20")]
    assert [d.year for d in knowledge.deadlines] == [2025]


def test_heading_whose_numeral_was_lost_and_chapter_headings():
    knowledge = read("、主要目标\n到2025年，森林覆盖率达到60%。\n第二章 重点任务\n第一条 推进节能。到2025年，完成改造5个。")
    assert [c.section for c in knowledge.clauses if c.kind == "goal"] == ["、主要目标"]
    assert any(c.section.startswith("二、重点任务 > 1.") for c in knowledge.clauses)


def test_page_markers_and_run_in_headings_of_a_page_long_line():
    line = "一、总体要求 （一）指导思想 坚持系统观念，推进碳达峰工 作。" * 8 + " —1— 到2025 年，完成改造5个。" + " - 2 - 结束。" * 5
    paragraphs = clean_document(line)
    texts = [p.text for p in paragraphs]
    assert "一、总体要求" in texts and "(一)指导思想" in texts
    assert not any(re.search(r"—1—|- 2 -", t) for t in texts)
    assert any("推进碳达峰工作" in t for t in texts)  # the space of a wrapped line is gone


def test_traditional_is_folded_and_pinyin_insertions_dropped():
    original = "工業(yè)領域碳達峰實施方案"
    (paragraph,) = clean_document(original)
    assert paragraph.text == "工业领域碳达峰实施方案"
    assert original[paragraph.start : paragraph.end] == original  # the quote stays the original, verbatim
    assert normalise_text("碳達峰") == "碳达峰"


TEXT = st.text(alphabet=st.sampled_from(list("業(yè)工領域碳達峰實施方案，。 \n—1-2到2025年％%、（）()責任單位：發展改革委") + ["\u3000"]), max_size=120)


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_every_cleaned_character_keeps_its_source_offset(original):
    for paragraph in clean_document(original):
        assert len(paragraph.offsets) == len(paragraph.text)
        assert list(paragraph.offsets) == sorted(paragraph.offsets)
        for char, offset in zip(paragraph.text, paragraph.offsets, strict=True):
            assert 0 <= offset < len(original)
            assert char in fold_char(simplified_char(original[offset]))  # a fold of its own source character
        assert "(yè)" not in paragraph.text and "—1—" not in paragraph.text


@pytest.fixture(scope="module")
def dev():
    return build_knowledge([load_document(path) for path in sorted(DEV.glob("*.txt"))]) if DEV.is_dir() else None


@needs_dev
def test_each_dev_document_with_unit_statements_yields_responsibilities(dev):
    for document in dev.documents:
        if re.search(r"责任单位|責任單位|负责单位|牵头单位|按职责分工负责", document.text):
            assert any(r.clause_id.startswith(Path(document.name).stem + ":") for r in dev.responsibilities.values()), document.name


@needs_dev
def test_dev_corpus_facts_counts(dev):
    per_doc = {Path(d.name).stem: 0 for d in dev.documents}
    for target in dev.targets:
        per_doc[target.clause_id.split(":")[0]] += 1
    assert len(dev.targets) >= 75 and len(dev.deadlines) >= 68 and len(dev.responsibilities) >= 8  # 39, 39, 0 before
    with_figures = [stem for stem, n in per_doc.items() if n]
    assert len(with_figures) >= 14  # 2 before: digests and preambles were front matter


@needs_dev
def test_dev_quotes_are_verbatim_slices(dev):
    for target in dev.targets:
        document = dev.document(dev.clause(target.clause_id).doc)
        quote = document.text[target.start : target.end]
        assert re.sub(r"\s", "", normalise_text(quote)) == re.sub(r"\s", "", target.sentence)


@needs_dev
def test_traditional_dev_document_has_its_figures(dev):
    values = {(t.value_text, t.unit, t.year) for t in dev.targets if t.clause_id.startswith("海南省")}
    assert ("54", "%", 2030) in values and ("22", "%", 2025) in values


def test_subject_in_the_previous_clause():
    (target,) = read("二、主要目标\n非化石能源消费比重稳步提升，到2025年达到32%。").targets
    assert (target.indicator, target.value_text, target.year) == ("非化石能源消费比重", "32", 2025)


def test_respectively_shares_the_measure_of_the_last_item():
    targets = read("二、主要目标\n确保受污染耕地、重点建设用地安全利用率分别达90%以上、100%。").targets
    assert [t.indicator for t in targets] == ["受污染耕地安全利用率", "重点建设用地安全利用率"]


def test_an_excerpt_cut_off_before_a_blank_line_ends_its_outline():
    plan = "某市碳达峰实施方案\n为推进工作，制定本方案。\n一、总体要求\n（一）指导思想\n" + "坚持系统观念，统筹发展和减排，推动经济社会发展全面绿色转型，加快形成节约资源和保护环境的产业结构与生"
    digest = "近日，某市印发方案。方案提出，到2025年，非化石能源消费比重达到20%。"
    knowledge = read(plan + "\n\n" + digest)
    (clause,) = [c for c in knowledge.clauses if c.text.startswith("近日")]
    assert clause.kind == "meta" and not clause.section.startswith("一、")
    assert [t.value_text for t in knowledge.targets] == ["20"]


def plan_of(name: str, units: str):
    text = f"一、重点任务\n（一）推进节能改造\n1.推进节能改造。到2025年，完成改造10个。（{units}按职责分工负责）"
    return [Document(name=name, path=name, text=text, sha256="")]


@pytest.mark.parametrize("district_first", [True, False])
def test_two_corpora_in_one_process_each_resolve_their_own_units(district_first):
    """The alias table is the corpus's own value: loading a second corpus changes nothing for the first."""
    from assistant.answer.question import parse
    from assistant.facts.knowledge import ledger_rows

    district = plan_of("district.txt", "区发展和改革局、区财政局")
    city = plan_of("city.txt", "市发展和改革委员会、市财政局")
    first, second = (district, city) if district_first else (city, district)
    loaded = [build_knowledge(first), build_knowledge(second)]
    by_doc = {k.documents[0].name: k for k in loaded}
    for doc, unit in (("district.txt", "区发展和改革局"), ("city.txt", "市发展和改革委员会")):
        knowledge = by_doc[doc]
        assert knowledge.unit_aliases.canonical("发改局") == unit
        assert parse("发改局负责哪些任务？", [], (), knowledge.unit_aliases).units == (unit,)
        assert [row.lead_unit for row in ledger_rows(knowledge, unit="发改局")] == [unit]
