"""China's administrative regions: which regions a text names, and at what level.

Officials name plans by place ("苏州的…", "省里…", "我们区…") and plans name themselves by place
("北京市碳达峰实施方案"). The gazetteer is GB/T 2260 (assistant/data/regions.tsv), so any plan of any
province reads the same way; nothing here knows the documents loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

LEVELS = ("国家", "省", "市", "县")  # 国家 / 省级 / 市州 / 县市区, highest first
# Suffixes a short name may drop: "苏州" for 苏州市, "海南" for 海南省, "湘西" for 湘西土家族苗族自治州.
SHORTENABLE = re.compile(
    r"(?:(?:壮族|回族|维吾尔|[\u4e00-\u9fff]{1,8}族)?自治(?:区|州|县|旗)|特别行政区|省|市|地区|盟|州|区|县|旗)$"
)
# Parts of a place that is not in the gazetteer (development zones, new areas): "某某经开区".
ZONE = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:经济技术开发区|经济开发区|高新技术产业开发区|高新区|经开区|新区|开发区)")
# How a plan speaks of its own place ("全市单位地区生产总值能耗…"): the level of the place it governs.
SELF_REFERENCE = {
    "国家": r"全国(?!前列|领先|一流|首[个批家]|示范|重点)",
    "省": r"全省|本省|我省",
    "市": r"全市|本市|我市",
    "县": r"全县|本县|我县|全区(?!域)|本区|我区",
}
LEVEL_WORDS = {
    # A question names a level by those words and by how people speak ("省里", "我们区"); "国家级示范",
    # "省级以上绿色工厂", "国家发展改革委" are ranks and bodies, not the plan asked about.
    "国家": re.compile(r"全国|国家层面|国务院(?!.{0,2}部门)|国家(?=[“《的十]|方案|规划|要求|目标|层面|提出)"),
    "省": re.compile(SELF_REFERENCE["省"] + r"|省里|省政府|省委|咱们省|我们省"),
    "市": re.compile(SELF_REFERENCE["市"] + r"|市里|市政府|市委|咱们市|我们市"),
    "县": re.compile(SELF_REFERENCE["县"] + r"|区里|县里|我们区|我们县|咱们区|咱们县"),
}


@dataclass(frozen=True)
class Region:
    code: str  # six-digit GB/T 2260 code ("" for a zone the gazetteer lacks)
    name: str  # the full name, "苏州市"
    level: str  # one of LEVELS

    def within(self, other: Region) -> bool:
        """苏州市 lies within 江苏省; a region lies within itself."""
        if not self.code or not other.code:
            return self.name == other.name
        prefix = {"省": 2, "市": 4, "县": 6}[other.level]
        return self.code[:prefix] == other.code[:prefix]


@dataclass(frozen=True)
class Mention:
    region: Region
    start: int
    end: int


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "省"
    return "市" if code.endswith("00") else "县"


@cache
def gazetteer() -> dict[str, tuple[Region, ...]]:
    """Every spelling (full and, where unambiguous, short) → the regions it may mean."""
    regions = []
    for line in resources.files("assistant").joinpath("data/regions.tsv").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t")
            regions.append(Region(code, name, level_of(code)))
    provinces = {r.code[:2]: r.name for r in regions if r.level == "省"}
    # 北京市, 重庆市…: the municipality is listed again as its own city; it is one provincial-level place.
    regions = [r for r in regions if not (r.level == "市" and provinces.get(r.code[:2]) == r.name)]
    names: dict[str, list[Region]] = {}
    for region in regions:
        names.setdefault(region.name, []).append(region)
    # Short forms: provinces and cities first, so "岳阳" means 岳阳市, not 岳阳县.
    for region in sorted(regions, key=lambda r: LEVELS.index(r.level)):
        short = SHORTENABLE.sub("", region.name)
        if len(short) >= 2 and short != region.name:
            taken = names.get(short)
            if taken is None or (region.level != "县" and all(r.level == region.level for r in taken)):
                names.setdefault(short, []).append(region)
    return {name: tuple(found) for name, found in names.items()}


def find_regions(text: str) -> list[Mention]:
    """Regions named in `text`, longest spelling first at each position, left to right."""
    names = gazetteer()
    mentions: list[Mention] = []
    i = 0
    while i < len(text):
        for length in range(min(12, len(text) - i), 1, -1):
            found = names.get(text[i : i + length])
            if found:
                mentions.extend(Mention(region, i, i + length) for region in found)
                i += length
                break
        else:
            i += 1
    return mentions + find_zones(text, mentions)


def find_zones(text: str, known: list[Mention]) -> list[Mention]:
    """Development zones and new areas the gazetteer does not list, as county-level places."""
    zones = []
    for match in ZONE.finditer(text):
        start = match.start()
        for mention in known:  # "重庆市万盛经开区": the zone's name starts after the city
            if mention.start <= start < mention.end:
                start = mention.end
        start += len(re.match(r"[和与及跟同、的在]*", text[start:]).group())  # "黄浦区和万盛经开区": not "和万盛…"
        name = text[start : match.end()]
        if len(name) > 3 and not any(m.region.name == name for m in known):
            zones.append(Mention(Region("", name, "县"), start, match.end()))
    return zones


def levels_named(text: str) -> tuple[str, ...]:
    """Plan levels a question names without a place: "省里…", "市里和我们区…"."""
    return tuple(level for level, pattern in LEVEL_WORDS.items() if pattern.search(text))


def same_place(a: str, b: str) -> bool:
    """"苏州" and "苏州市" are one place; so are "万盛经开区" and "重庆市万盛经开区"."""
    if a == b:
        return True
    return short_name(a) == short_name(b)


def short_name(name: str) -> str:
    """"苏州" for 苏州市, but "苏州" stays "苏州" (a one-character stem is no name)."""
    short = SHORTENABLE.sub("", name)
    return short if len(short) >= 2 else name


# --- places as plans write them: full names, abbreviations, 文号 prefixes --------------------------------

MUNICIPALITY_CODES = ("11", "12", "31", "50")  # 北京, 天津, 上海, 重庆: their districts sit directly under them
# Where a 文号's issuer part begins: "苏府〔…〕", "宿政办发", "晋政发", "西青政发", "岳县政发", "鹤政函".
DOC_NUMBER_BODY = re.compile(r"(?:政|府|办|发|函|委|字|党|规|令)")


@cache
def all_regions() -> tuple[Region, ...]:
    """Every region of the gazetteer once, by code (provinces, prefectures, counties)."""
    regions: dict[str, Region] = {}
    for found in gazetteer().values():
        for region in found:
            if region.code and region.code[:2] != "99":
                regions.setdefault(region.code, region)
    return tuple(sorted(regions.values(), key=lambda r: r.code))


@cache
def province_names() -> tuple[str, ...]:
    """The provincial-level names, 北京市 … 新疆维吾尔自治区."""
    return tuple(r.name for r in all_regions() if r.level == "省")


@cache
def region_by_code(code: str) -> Region | None:
    return next((r for r in all_regions() if r.code == code), None)


def parents(region: Region) -> list[Region]:
    """The province and prefecture a region lies in, highest first (not the region itself)."""
    if not region.code:
        return []
    codes = {"省": [], "市": [region.code[:2] + "0000"], "县": [region.code[:2] + "0000", region.code[:4] + "00"]}[region.level]
    return [r for code in codes if (r := region_by_code(code)) is not None]


def full_name(region: Region) -> str:
    """How a plan names its place: "某市", "某市某区", "某省某市某县" (a county with its parent)."""
    if region.level != "县":
        return region.name
    above = parents(region)
    parent = above[0] if region.code[:2] in MUNICIPALITY_CODES else above[-1] if above else None
    return (parent.name if parent else "") + region.name


@cache
def abbreviations() -> dict[str, tuple[Region, ...]]:
    """One-character province abbreviations (data/province_abbreviations.tsv) → the provinces they mean."""
    found: dict[str, list[Region]] = {}
    text = resources.files("assistant").joinpath("data/province_abbreviations.tsv").read_text("utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, written = line.split("\t")
            if region := region_by_code(code):
                for abbreviation in written.split():
                    found.setdefault(abbreviation, []).append(region)
    return {key: tuple(value) for key, value in found.items()}


@cache
def national_doc_prefixes() -> tuple[str, ...]:
    text = resources.files("assistant").joinpath("data/national_doc_prefixes.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def is_national_doc_prefix(prefix: str) -> bool:
    """"国办发", "工信部联节", "环综合", "发改能源": a number of the State Council or a ministry."""
    return prefix.startswith(national_doc_prefixes()) or (
        "部" in prefix and not find_regions(prefix[: prefix.index("部")])
    )


def doc_number_places(prefix: str) -> list[Region]:
    """The regions whose bodies could number a document so: the place part of the prefix read as a province's
    one-character abbreviation, or as the first characters of a prefecture's or county's name.

    "晋政发" → 山西省 (and prefectures named 晋…); "苏府" → 江苏省, 苏州市; "岳县政发" → counties 岳…县. Several
    candidates are left to the other signals (the level, the body's places) to choose between.
    """
    cut = DOC_NUMBER_BODY.search(prefix)
    stem = prefix[: cut.start()] if cut else prefix
    if not stem or is_national_doc_prefix(prefix):
        return []
    if stem in gazetteer():
        return list(gazetteer()[stem])
    if len(stem) == 1:
        provinces = list(abbreviations().get(stem, ()))
        return provinces + [r for r in all_regions() if r.level != "省" and r.name.startswith(stem)]
    if len(stem) == 2 and stem[1] in "县区市旗":  # "岳县": a county named 岳…县
        return [r for r in all_regions() if r.level == "县" and r.name[0] == stem[0] and r.name.endswith(stem[1])]
    return [r for r in all_regions() if r.level != "省" and r.name.startswith(stem)]


def region_votes(text: str) -> dict[Region, int]:
    """How often a text names each region, a place counting for itself and for the regions it lies in.

    A city plan names its own districts most ("全市…某区、某县"): their votes add up to the city's.
    """
    votes: dict[Region, int] = {}
    for mention in find_regions(text):
        region = mention.region
        if not region.code or len(SHORTENABLE.sub("", region.name)) < 2:
            continue  # zones the gazetteer lacks; "城区", "矿区": words before places
        if mention.end - mention.start < len(region.name) and region.level == "县":
            continue  # a county's bare short name is too often an everyday word ("新建", "资源")
        for place in [region, *parents(region)]:
            votes[place] = votes.get(place, 0) + 1
    return votes


# --- a place as a name writes it, by its suffixes (for names the gazetteer may lack: new districts, zones) ---

PROVINCE_SUFFIX = re.compile(r"(?:壮族|回族|维吾尔)?自治区$|特别行政区$|省$|市$")
CITY = re.compile(r"^([\u4e00-\u9fff]{2,7}?(?:自治州|地区|市|州|盟))")
COUNTY = re.compile(r"^([\u4e00-\u9fff]{1,7}?(?:自治县|经开区|高新区|新区|县|区|旗))")
PART = re.compile(r"[\u4e00-\u9fff]+?(?:自治区|自治州|自治县|经开区|高新区|新区|省|市|州|盟|县|区|旗)")
PART_SUFFIX = re.compile(r"(?:自治区|自治州|自治县|经开区|高新区|新区|省|市|州|盟|县|区|旗)$")


def read_place_name(name: str) -> tuple[str, str]:
    """The place a name starts with and its level: "某某省某某市碳达峰…" → ("某某省某某市", "市"), "" when none."""
    rest, parts, level = name, [], ""
    province, length = _province_at_start(name)
    if province:
        parts, level, rest = [province], "省", rest[length:]
    if m := CITY.match(rest):
        parts, level, rest = parts + [m.group(1)], "市", rest[m.end() :]
    if m := COUNTY.match(rest):
        parts, level = parts + [m.group(1)], "县"
    return "".join(parts), level


def _province_at_start(name: str) -> tuple[str, int]:
    """The province a name starts with, written in full ("山西省") or short ("山西", not "吉林市")."""
    for province in province_names():
        if name.startswith(province):
            return province, len(province)
    for province in province_names():
        short = PROVINCE_SUFFIX.sub("", province)
        if name.startswith(short) and name[len(short) : len(short) + 1] not in ("市", "州", "县", "区", "盟"):
            return province, len(short)
    return "", 0


def place_names(region: str) -> list[str]:
    """"某市某区" → the whole, each part, and each part without its suffix: how unit names start."""
    if region in ("", "全国"):
        return []
    parts = PART.findall(region)
    names = [region, *parts, *(PART_SUFFIX.sub("", p) for p in parts)]
    return [n for n in dict.fromkeys(names) if len(n) >= 2]
