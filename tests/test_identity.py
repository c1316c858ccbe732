"""Every plan gets an identity from its own text: title, level, region, 文号, date."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.facts.knowledge import build_knowledge, load_knowledge
from assistant.ingest.identity import document_rows, parse_region, place_names
from assistant.ingest.load import load_document

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / ".." / "shared" / "corpus-dev"
needs_dev = pytest.mark.skipif(not DEV.is_dir(), reason="the development corpus ../shared/corpus-dev is not here")

# Levels checked by eye against SOURCES.md (national / provincial / city / county, district).
LEVELS = {
    "2022年政府工作报告": "国家",
    "“十三五”控制温室气体排放工作方案部门分工": "国家",
    "减污降碳协同增效实施方案": "国家",
    "工业领域碳达峰实施方案": "国家",
    "北京市碳达峰实施方案": "省",
    "浙江省“十三五”控制温室气体排放实施方案": "省",
    "海南省碳達峰實施方案": "省",
    "广东省“十四五”节能减排实施方案": "省",
    "山西省碳达峰实施方案": "省",
    "重庆市减污降碳协同增效实施方案": "省",
    "苏州市碳达峰实施方案": "市州",
    "宿迁市加快经济社会发展全面绿色转型工作方案": "市州",
    "東莞市碳達峰實施方案": "市州",
    "宜春市碳達峰實施方案": "市州",
    "六盘水市“十四五”节能减排实施方案": "市州",
    "汕尾市碳达峰实施方案": "市州",
    "岳阳县碳达峰实施方案": "县市区",
    "天津市西青区碳达峰实施方案": "县市区",
    "黄浦区碳达峰实施方案": "县市区",
    "重庆市万盛经开区碳达峰实施方案": "县市区",
}


@pytest.fixture(scope="module")
def dev():
    return build_knowledge([load_document(path) for path in sorted(DEV.glob("*.txt"))])


@needs_dev
def test_every_dev_document_has_a_title_and_the_level_sources_md_gives(dev):
    assert len(dev.documents) == len(LEVELS)
    for document in dev.documents:
        plan = dev.identities[document.name]
        assert plan.title and plan.level == LEVELS[Path(document.name).stem], (document.name, plan)


@needs_dev
def test_traditional_documents_are_identified_in_simplified(dev):
    plan = dev.identities["東莞市碳達峰實施方案.txt"]
    assert (plan.title, plan.region, plan.doc_number, plan.date) == ("东莞市碳达峰实施方案", "东莞市", "东府〔2023〕28号", "2023-05-07")
    assert not plan.title_from_file_name
    assert dev.identities["海南省碳達峰實施方案.txt"].doc_number == "琼府〔2022〕27号"


@needs_dev
def test_title_from_the_text_not_the_file_name_and_fallback_flagged(dev):
    assert dev.identities["山西省碳达峰实施方案.txt"].doc_number == "晋政发〔2022〕29号"  # not a 文号 it cites
    assert dev.identities["黄浦区碳达峰实施方案.txt"].region == "上海市黄浦区"  # from the signature
    flagged = {p.doc for p in dev.identities.values() if p.title_from_file_name}
    assert "六盘水市“十四五”节能减排实施方案.txt" in flagged  # the stored page never names its plan
    assert dev.identities["广东省“十四五”节能减排实施方案.txt"].period == "2021-2025"


def test_bulletin_identity():
    knowledge = load_knowledge(ROOT / "corpus")
    (row,) = document_rows(knowledge)
    assert (row["标题"], row["层级"], row["地区"], row["文号"], row["日期"]) == (
        "怀化市鹤城区碳达峰实施方案", "县市区", "怀化市鹤城区", "鹤政函〔2024〕1号", "2024-03-27")


@pytest.mark.parametrize(
    ("name", "region", "level"),
    [("某某省某某市碳达峰实施方案", "某某省某某市", "市州"), ("广西壮族自治区某某市某某县方案", "广西壮族自治区某某市某某县", "县市区"),
     ("上海市某某区方案", "上海市某某区", "县市区"), ("国务院关于某事的意见", "全国", "国家"), ("内蒙古自治区某某旗方案", "内蒙古自治区某某旗", "县市区"),
     ("山西碳达峰实施方案", "山西省", "省"), ("吉林市碳达峰实施方案", "吉林市", "市州")],
)
def test_region_and_level_by_suffix(name, region, level):
    assert parse_region(name) == (region, level)


def test_place_names_of_a_region():
    assert set(place_names("甲乙市丙丁区")) >= {"甲乙市丙丁区", "甲乙市", "丙丁区", "甲乙", "丙丁"}


def test_docs_command_lists_the_plans(capsys):
    from assistant.cli import main

    assert main(["--corpus", str(ROOT / "corpus"), "docs", "--format", "json"]) == 0
    assert "鹤政函〔2024〕1号" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("line", "number"),
    [
        ("关于印发某市碳达峰实施方案的通知某政发〔2023〕5号", "某政发〔2023〕5号"),
        ("某政发[2022]18号", "某政发[2022]18号"),
        ("某府办（2024）3号", "某府办（2024）3号"),
    ],
)
def test_a_doc_number_is_read_in_any_bracket(line, number):
    """One 文号 pattern for plan identity, cover facts and questions naming a plan (there were three)."""
    from assistant.ingest.identity import find_doc_number

    assert find_doc_number([line]) == number
