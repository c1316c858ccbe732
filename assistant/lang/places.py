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
# Parts of a place that is not in the gazetteer (development zones, new areas): "万盛经开区".
ZONE = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:经济技术开发区|经济开发区|高新技术产业开发区|高新区|经开区|新区|开发区)")
LEVEL_WORDS = {
    # "国家级示范", "省级以上绿色工厂", "国家发展改革委": ranks and bodies, not the plan asked about.
    "国家": re.compile(r"全国|国家层面|国务院(?!.{0,2}部门)|国家(?=[“《的十]|方案|规划|要求|目标|层面|提出)"),
    "省": re.compile(r"省里|全省|本省|我省|省政府|省委|咱们省|我们省"),
    "市": re.compile(r"市里|全市|本市|我市|市政府|市委|咱们市|我们市"),
    "县": re.compile(r"区里|县里|我们区|我们县|咱们区|咱们县|本区|本县|我区|我县|全区(?!域)|全县"),
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
