"""Unit names and their aliases, learned by rule from the names a corpus contains.

A plan writes "区发展和改革局" where a reader types "发改局" or "发改委"; another plan of the same
place writes "区发展和改革委员会". The rules: drop the region prefix (the plan's own place names and
the level characters 区/市/县/省), treat 委员会/委/局 as one kind of body, drop the "和" of a compound,
and form the standard short name from a compound's first characters (发展和改革 → 发改). The hand table
(data/unit_aliases.json) keeps only what no rule can know (住房和城乡建设 → 住建).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType

LEVEL_PREFIX = re.compile(r"^(?:省|市|州|县|区|旗|镇)委?(?=[\u4e00-\u9fff]{3,})")
BODY_SUFFIX = re.compile(r"(?:委员会|委|局)$")
OTHER_SUFFIX = re.compile(r"(?:中心|管委会|管理委员会|分公司|公司)$")

# How a plan states who is responsible, after a task: "(…按职责分工负责)", "(责任单位:…)",
# "(牵头单位:…;配合单位:…)", "(…牵头,…参与)" — or on a line of its own, "责任单位:…".
UNIT_WORDS = r"(?:负责|责任单位|牵头单位|负责单位|负责部门|责任部门|牵头部门|配合单位|参加单位|牵头)"
UNIT_STATEMENT = rf"\([^()]*{UNIT_WORDS}[^()]*\)"  # in brackets (cleaned text: half-width)
UNIT_LINE_LABEL = r"(?:责任|牵头|负责)(?:单位|部门)[:：]"
# A text (a task, a page's last line) that ends with its statement of units: nothing more of that task follows.
ENDS_WITH_UNITS = re.compile(rf"{UNIT_STATEMENT}$|负责[)）]$")


@cache
def hand_table() -> dict[str, tuple[str, ...]]:
    """Generic synonyms of department stems ("住房和城乡建设" ↔ "住建"): no place, no one plan's units."""
    table = json.loads(resources.files("assistant").joinpath("data", "unit_aliases.json").read_text("utf-8"))
    table.pop("_comment", None)
    return {stem: tuple(others) for stem, others in table.items()}


@dataclass(frozen=True, eq=False)
class AgencyAliases(Mapping[str, str]):
    """One corpus's unit names: every spelling or short form it was learned with → the canonical name.

    A value, owned by the corpus's knowledge (`Knowledge.unit_aliases`) and passed to whoever reads
    unit names; two corpora in one process each keep their own. As a mapping: alias → canonical.
    """

    table: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", MappingProxyType(dict(self.table)))

    @classmethod
    def learn(cls, names: Iterable[str], place_names: tuple[str, ...] = ()) -> AgencyAliases:
        """The aliases of these unit names; the most used spelling of one unit is its canonical name."""
        counts = Counter(n.strip() for n in names if n.strip())
        table: dict[str, str] = {}
        by_key: dict[str, str] = {}
        for name, _ in counts.most_common():
            keys = (unit_key(name, place_names), _anagram_key(name))
            canonical = next((by_key[k] for k in keys if k in by_key), name)
            for key in keys:
                by_key.setdefault(key, canonical)
            table[name] = canonical
        for name, canonical in list(table.items()):
            for alias in short_forms(name, place_names):
                table.setdefault(alias, canonical)
        return cls(table)

    def canonical(self, name: str) -> str:
        """The corpus's name for a unit as written or typed ("发改局" → "区发展和改革局"); unknown names as given."""
        name = name.strip()
        return self.table.get(name, name)

    def named_in(self, text: str) -> list[str]:
        """The aliases `text` contains, longest first, none inside one already found."""
        found: list[str] = []
        for alias in sorted(self.table, key=len, reverse=True):
            if alias in text and not any(alias in f for f in found):
                found.append(alias)
        return found

    def __getitem__(self, alias: str) -> str:
        return self.table[alias]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)


NO_ALIASES = AgencyAliases()  # before a corpus is read: every name is its own canonical name


def _anagram_key(name: str) -> str:
    """"国网X供电Y分公司" and "国网XY供电分公司": the same words in another order."""
    return "".join(sorted(name))


def strip_region(name: str, place_names: tuple[str, ...]) -> str:
    for place in sorted(place_names, key=len, reverse=True):
        if place and name.startswith(place) and len(name) > len(place) + 1:
            name = name[len(place) :]
            break
    return LEVEL_PREFIX.sub("", name)


def unit_key(name: str, place_names: tuple[str, ...] = ()) -> str:
    """What two spellings of one unit share: its level (区/市/省…), no place, no "和", one body suffix."""
    bare = strip_region(name, place_names)
    level = name[len(name) - len(bare) - 1] if len(bare) < len(name) and name[len(name) - len(bare) - 1] in "省市州县区旗镇" else ""
    return level + BODY_SUFFIX.sub("局", bare.replace("和", ""))


def short_forms(name: str, place_names: tuple[str, ...] = ()) -> set[str]:
    """The forms a reader types: without the region, with 局/委, the compound's initials, the bare business."""
    bare = strip_region(name, place_names)
    for place in place_names:  # "<place>供电<place>分公司": places inside the name too
        if len(place) >= 2 and place in bare[1:]:
            bare = bare[0] + bare[1:].replace(place, "")
    forms = {bare, bare.replace("和", "")}
    if match := BODY_SUFFIX.search(bare):
        forms |= _body_forms(bare[: match.start()], ("局", "委"))
    elif match := OTHER_SUFFIX.search(bare):
        forms |= _other_forms(bare[: match.start()], match.group())
    return {f for f in forms if len(f) >= 3 and f != name}


def _body_forms(stem: str, suffixes: tuple[str, ...]) -> set[str]:
    """"发展和改革" → 发展和改革局/委, 发展改革局/委, 发改局/委; "公安分" → also 公安局."""
    stems = {stem, stem.replace("和", "")} | _abbreviations(stem)
    if stem.endswith("分"):
        stems |= {s[:-1] for s in stems}
    return {s + suffix for s in stems for suffix in suffixes}


def _other_forms(stem: str, suffix: str) -> set[str]:
    """"高新区管委会" → 高新区; "国网供电分公司" → 供电公司, 供电分公司; "环境卫生服务中心" → 环卫中心."""
    if suffix in ("管委会", "管理委员会"):
        return {stem, stem + "管委会"}
    if suffix in ("分公司", "公司"):
        business = stem[-2:]
        return {stem + "公司", stem + "分公司", business + "公司", business + "分公司"}
    return {s + suffix for s in {stem} | _abbreviations(stem)}


def _abbreviations(stem: str) -> set[str]:
    """"发展和改革" → "发改"; "人力资源和社会保障" → "人社"; the hand table's synonyms, either way."""
    out = set()
    parts = stem.split("和")
    if len(parts) == 2 and all(len(p) >= 2 for p in parts):
        out.add(parts[0][0] + parts[1][0])
    for full, shorts in hand_table().items():
        group = (full,) + shorts
        for member in (m for m in group if m in stem):
            out |= {stem.replace(member, other) for other in group if other != member}
    return out
