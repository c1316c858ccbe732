"""Stage 3b, identity: which plan a document is (title, issuer, region, level, 文号, date, period).

Read from the document's own text — a 通知 header, the title line, a 《…》 title a digest quotes, the
文号 line — and only when the text names no plan, from the file name (flagged). The region's level
comes by rule from the place names' suffixes (省/自治区/直辖市, 市/州/盟, 县/区/旗) and a list of the
34 provincial-level names; national bodies (国务院, 部委) make a plan national.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import PurePath

from assistant.ingest.clean import normalise_text
from assistant.lang.doc_numbers import DOC_NUMBER, DOC_NUMBER_YEAR
from assistant.lang.periods import period_named_in
from assistant.models import Clause, Document, PlanIdentity

PLAN_WORD = r"(?:实施方案|工作方案|行动方案|方案|规划|计划|纲要|意见|办法|报告|分工|要点)"
NOTICE = re.compile(rf"印发《?([^《》,，。:：;；()]{{4,48}}?{PLAN_WORD})》?(?:\([^()]*\))?的(?:通知|函)")
TITLE_LINE = re.compile(rf"^(?:【[^】]*】)?([^,，。:：;；()《》]{{4,40}}{PLAN_WORD})(?:\.(?:docx?|pdf|txt))?$")
QUOTED = re.compile(rf"《([^《》]{{4,40}}{PLAN_WORD})》")
CITING = re.compile(r"(?:落实|贯彻|根据|按照|依据|对照|参照|发布的)[^。]{0,12}$")
ANNOUNCED = re.compile(r"(?:印发|发布|出台|制定)[^。《》]{0,4}$")
FULL_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
ISSUER = re.compile(
    r"((?:[\u4e00-\u9fff]{2,16}?(?:人民政府办公室|人民政府办公厅|人民政府|政府|管委会|管理委员会|办公室|办公厅|委员会|部|委|局|厅)"
    r"(?:[、,，和 ]|等部门|等\d+部门)*)+)(?:联合)?(?:正式)?(?:关于)?印发"
)
NATIONAL = re.compile(r"^(?:国务院|国家|中共中央|全国|中央)|部$|部[、 ]|^(?:生态环境|工业和信息化|交通运输|农业农村|住房和城乡建设)部")
ISSUER_LABEL = re.compile(r"(?:发布机构|发文机关|发布单位|发文单位)[:：]\s*([\u4e00-\u9fff]{2,30}?(?:人民政府|管委会|办公室|办公厅|部|局|委))")
NATIONAL_BODY = re.compile(r"国务院|中共中央|国家[\u4e00-\u9fff]{1,8}?(?:委|部|局)")
CITY = re.compile(r"^([\u4e00-\u9fff]{2,7}?(?:自治州|地区|市|州|盟))")
COUNTY = re.compile(r"^([\u4e00-\u9fff]{1,7}?(?:自治县|经开区|高新区|新区|县|区|旗))")
SIGNED_DATE = re.compile(r"(?:(?:颁布|发布|成文|印发)(?:时间|日期)[:：]|(?:人民政府|管委会))" + FULL_DATE.pattern)
SIGNATURE = re.compile(r"[\u4e00-\u9fff]{2,20}(?:人民政府|管委会|办公室|办公厅|部|局)$")
GARBLE = re.compile(r"[?？]+")  # characters a web page could not encode


PROVINCE_SUFFIX = re.compile(r"(?:壮族|回族|维吾尔)?自治区$|特别行政区$|省$|市$")


@cache
def provinces() -> tuple[str, ...]:
    """The 34 provincial-level names (general knowledge, data/provinces.txt)."""
    text = resources.files("assistant").joinpath("data", "provinces.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def identify(document: Document, clauses: list[Clause]) -> PlanIdentity:
    lines = [GARBLE.sub("", c.text) for c in clauses]
    title = find_title(lines)
    from_file = not title
    if from_file:
        title = normalise_text(PurePath(document.name).stem)
    issuer = find_issuer(lines)
    region, level = region_and_level(title, issuer, lines)
    return PlanIdentity(
        doc=document.name,
        title=title,
        issuer=issuer,
        region=region,
        level=level,
        doc_number=find_doc_number(lines),
        date=find_date(lines),
        period=period_named_in(title),
        title_from_file_name=from_file,
    )


def find_title(lines: list[str]) -> str:
    """A 通知 that issues the plan, else the plan's own title line, else a 《…》 a digest quotes."""
    for finder in (_notice_title, _title_line, _quoted_title):
        for line in lines:
            if title := finder(line):
                return title
    return ""


def _outside_quotes(line: str, pos: int) -> bool:
    before = line[:pos]
    return before.count("《") <= before.count("》") and not CITING.search(before)


def _notice_title(line: str) -> str:
    match = next((m for m in NOTICE.finditer(line) if _outside_quotes(line, m.start())), None)
    return match.group(1).strip() if match else ""


def _title_line(line: str) -> str:
    match = TITLE_LINE.match(line.strip())
    return match.group(1).strip() if match and not line.startswith(("关于", "为")) else ""


def _quoted_title(line: str) -> str:
    announced = (m for m in QUOTED.finditer(line) if _outside_quotes(line, m.start()) and ANNOUNCED.search(line[: m.start()]))
    match = next(announced, None)
    return match.group(1) if match else ""


def find_issuer(lines: list[str]) -> str:
    """Who issues it: "X印发" outside quotes, else the signature line above a date."""
    for line in lines:
        for match in ISSUER.finditer(line):
            if _outside_quotes(line, match.start()):
                return _clean_issuer(match.group(1))
    signed = (lines[i - 1] for i in range(1, len(lines)) if FULL_DATE.fullmatch(lines[i]) and SIGNATURE.fullmatch(lines[i - 1]))
    labelled = (m.group(1) for line in lines if (m := ISSUER_LABEL.search(line)))
    return next(signed, "") or next(labelled, "")


def _clean_issuer(text: str) -> str:
    text = re.sub(r"^.*(?:号|日|信息|通知|文件|\d)(?=[\u4e00-\u9fff]{3})", "", text)
    return re.sub(r"(?:等部门|等\d+部门|[、,， 和])+$", "", text).strip()


def find_doc_number(lines: list[str]) -> str:
    """The plan's own 文号: not one cited in brackets after a quoted title."""
    for line in lines:
        for match in DOC_NUMBER.finditer(line):
            if _outside_quotes(line, match.start()) and not line[: match.start()].endswith(("(", "《")):
                year = DOC_NUMBER_YEAR.search(match.group())
                prefix, rest = match.group()[: year.start()], match.group()[year.start() :]
                return re.sub(r"^.*(?:通知|文件|号|的)", "", prefix) + rest  # "…的通知京政发〔…" → "京政发〔…"
    return ""


def find_date(lines: list[str]) -> str:
    """The date under the issuer's signature, else a labelled or run-in signed date, else the first date line."""
    notice = next((i for i, line in enumerate(lines) if _notice_title(line)), 0)
    dated = [(i, m) for i, line in enumerate(lines) if (m := FULL_DATE.fullmatch(line.strip()))]
    dated = [(i, m) for i, m in dated if i > notice] or dated
    signed = [m for i, m in dated if i > 0 and SIGNATURE.search(lines[i - 1])]
    run_in = [m for line in lines if (m := SIGNED_DATE.search(line))]
    for match in signed + run_in + [m for _, m in dated]:
        year, month, day = match.groups()[-3:]
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return ""


def region_and_level(title: str, issuer: str, lines: list[str]) -> tuple[str, str]:
    """The place a plan is for, by its name's suffixes; no place and a national body → 国家."""
    region, level = parse_region(title)
    issuer_region, issuer_level = parse_region(issuer)
    signatures = [parse_region(line)[0] for line in lines if SIGNATURE.fullmatch(line)]
    national = NATIONAL.search(issuer) or NATIONAL.search(title) or any(NATIONAL_BODY.search(line) for line in lines)
    for fuller in [issuer_region] + signatures:
        if region and fuller.endswith(region) and len(fuller) > len(region):
            region = fuller
    if not region and not issuer_region:
        return ("全国", "国家") if national else ("", "")
    return region or issuer_region, level or issuer_level


def parse_region(name: str) -> tuple[str, str]:
    rest, parts, level = name, [], ""
    province, length = _province_at_start(name)
    if province:
        parts, level, rest = [province], "省", rest[length:]
    if m := CITY.match(rest):
        parts, level, rest = parts + [m.group(1)], "市州", rest[m.end() :]
    if m := COUNTY.match(rest):
        parts, level = parts + [m.group(1)], "县市区"
    if NATIONAL.search(name) and not parts:
        return "全国", "国家"
    return "".join(parts), level


def _province_at_start(name: str) -> tuple[str, int]:
    """The province a name starts with, written in full ("山西省") or short ("山西", not "吉林市")."""
    for province in provinces():
        if name.startswith(province):
            return province, len(province)
    for province in provinces():
        short = PROVINCE_SUFFIX.sub("", province)
        if name.startswith(short) and name[len(short) : len(short) + 1] not in ("市", "州", "县", "区", "盟"):
            return province, len(short)
    return "", 0


def place_names(region: str) -> list[str]:
    """"某市某区" → the whole, each part, and each part without its suffix: how unit names start."""
    if region in ("", "全国"):
        return []
    parts = re.findall(r"[\u4e00-\u9fff]+?(?:自治区|自治州|自治县|经开区|高新区|新区|省|市|州|盟|县|区|旗)", region)
    names = [region] + parts
    names += [re.sub(r"(?:自治区|自治州|自治县|经开区|高新区|新区|省|市|州|盟|县|区|旗)$", "", p) for p in parts]
    return [n for n in dict.fromkeys(names) if len(n) >= 2]


def document_rows(knowledge) -> list[dict]:
    """One row per document for `planqa docs`: which plan it is, and whether its title is only the file name."""
    rows = []
    for document in knowledge.documents:
        plan = knowledge.identities[document.name]
        rows.append({
            "id": PurePath(document.name).stem, "标题": plan.title, "层级": plan.level, "地区": plan.region,
            "文号": plan.doc_number, "日期": plan.date, "期间": plan.period,
            "标题来源": "文件名 / file name" if plan.title_from_file_name else "正文",
        })
    return rows
