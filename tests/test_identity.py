"""Every plan gets an identity from its own text: title, level, region, 文号, date."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.facts.knowledge import build_knowledge, load_knowledge
from assistant.ingest.identity import document_rows, parse_region
from assistant.ingest.load import load_document
from assistant.lang.places import place_names

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
    assert "地区/层级←标题" in row["来源"] and "文号←正文" in row["来源"]  # where each field was read


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


# --- identity from every signal, on small synthetic plans (places from the gazetteer, none of the dev corpus's) ---

BODY = "为深入贯彻党中央、国务院关于碳达峰碳中和的决策部署，制定本方案。\n一、主要目标\n到2025年，单位地区生产总值能耗比2020年下降14%。\n"


def identity_of(text: str, name: str = "plan.txt"):
    from assistant.ingest.identity import identify
    from assistant.ingest.structure import structure_document
    from assistant.models import Document

    document = Document(name=name, path=name, text=text, sha256="")
    return identify(document, structure_document(document))


def region_source(plan) -> str:
    return dict(plan.sources)["地区/层级"]


def test_a_city_plan_placed_by_its_doc_number_prefix_alone():
    """"绵府发": the first character of one prefecture's name; "市人民政府" says the plan is a city's."""
    plan = identity_of("市人民政府关于印发碳达峰实施方案的通知\n绵府发〔2023〕8号\n" + BODY.replace("单位", "全市单位"))
    assert (plan.region, plan.level) == ("绵阳市", "市州")
    assert "文号" in region_source(plan)


def test_a_city_plan_placed_by_its_issuer_line_alone():
    plan = identity_of("绵阳市人民政府印发碳达峰实施方案的通知\n" + BODY)
    assert (plan.region, plan.level, plan.title) == ("绵阳市", "市州", "碳达峰实施方案")
    assert region_source(plan) == "发文机关"


def test_a_city_plan_placed_by_its_body_alone():
    """No place in title, issuer or 文号: the body's 全市 and the districts it names most (all of one city)."""
    body = BODY + "全市推进涪城区、游仙区光伏整县试点。\n支持江油市、三台县建设绿色园区，全市新建建筑全面执行绿色标准。\n涪城区率先达峰。\n"
    plan = identity_of("碳达峰实施方案\n" + body)
    assert (plan.region, plan.level) == ("绵阳市", "市州")
    assert region_source(plan) == "正文"


def test_a_plan_placed_by_its_file_name_alone():
    plan = identity_of(BODY, name="绵阳市碳达峰实施方案.txt")
    assert plan.title_from_file_name and (plan.region, plan.level) == ("绵阳市", "市州")
    assert region_source(plan) == "文件名"


def test_signals_that_disagree_leave_the_plan_unknown():
    plan = identity_of("德阳市人民政府印发绵阳市碳达峰实施方案的通知\n" + BODY)  # issuer and title disagree
    assert (plan.region, plan.level) == ("", "")
    assert "未知" in region_source(plan)
    body = BODY + "全市推进涪城区、游仙区光伏试点，全市建设江油市绿色园区。\n"
    weak = identity_of("碳达峰实施方案\n赣府发〔2023〕8号\n" + body)  # 文号 and body disagree
    assert (weak.region, weak.level) == ("", "")


def test_the_plans_own_name_outweighs_a_doc_number_it_does_not_spell():
    """Some cities number by a nickname that is no place's first character: the title decides, the 文号
    then only fails to confirm."""
    plan = identity_of("绵阳市碳达峰实施方案\n赣府发〔2023〕8号\n" + BODY)
    assert (plan.region, plan.level) == ("绵阳市", "市州") and "文号" not in region_source(plan)


def test_no_signal_is_unknown_not_national():
    """"党中央、国务院" in a preamble is what every plan cites, not who issues this one."""
    plan = identity_of("碳达峰实施方案\n" + BODY)
    assert (plan.region, plan.level) == ("", "")
    by_a_city_department = identity_of("市委宣传部印发绿色生活行动方案的通知\n" + BODY)  # 部, but a city's
    assert (by_a_city_department.region, by_a_city_department.level) == ("", "")


def test_a_national_plan_by_a_ministry_doc_number():
    plan = identity_of("发改环资〔2023〕12号\n重点领域节能降碳行动方案\n" + BODY)
    assert (plan.region, plan.level) == ("全国", "国家")
    assert region_source(plan) == "文号"


def test_a_doc_number_prefix_is_read_through_the_gazetteer():
    from assistant.lang.places import doc_number_places, is_national_doc_prefix

    assert [r.name for r in doc_number_places("皖政办发")] == ["安徽省"]  # a province's one-character abbreviation
    assert "绵阳市" in [r.name for r in doc_number_places("绵府发")]  # a prefecture's first character
    assert [r.name for r in doc_number_places("涪城府发")] == ["涪城区"]  # a county's first two
    assert is_national_doc_prefix("国办发") and is_national_doc_prefix("农业农村部") and not is_national_doc_prefix("绵府发")


def test_a_place_the_gazetteer_lacks_extends_its_known_parent_and_noise_does_not_conflict():
    zone = identity_of("四川省绵阳市科技城新区管委会印发碳达峰实施方案的通知\n" + BODY)
    assert (zone.region, zone.level) == ("四川省绵阳市科技城新区", "县市区")
    posted = identity_of("发布机构：经济开发区管委会\n绵阳市碳达峰实施方案\n" + BODY)  # the site that posted it
    assert (posted.region, posted.level) == ("绵阳市", "市州")
