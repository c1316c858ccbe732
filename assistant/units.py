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
from functools import cache
from importlib import resources

LEVEL_PREFIX = re.compile(r"^(?:省|市|州|县|区|旗|镇)(?=[\u4e00-\u9fff]{3,})")
BODY_SUFFIX = re.compile(r"(?:委员会|委|局)$")
_learned: dict[str, str] = {}


@cache
def hand_table() -> dict[str, tuple[str, ...]]:
    """Generic synonyms of department stems ("住房和城乡建设" ↔ "住建"): no place, no one plan's units."""
    table = json.loads(resources.files("assistant").joinpath("data", "unit_aliases.json").read_text("utf-8"))
    table.pop("_comment", None)
    return {stem: tuple(others) for stem, others in table.items()}


def unit_aliases() -> dict[str, str]:
    """Every learned spelling or short form → the canonical name used in the corpus."""
    return dict(_learned)


def canonical_unit(name: str) -> str:
    name = name.strip()
    return _learned.get(name, name)


def learn_units(names: list[str], place_names: tuple[str, ...] = ()) -> dict[str, str]:
    """Make these units and their aliases the ones questions are read with; the most used spelling is canonical."""
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
    use_aliases(table)
    return table


def use_aliases(table: dict[str, str]) -> None:
    """The alias table of the corpus being served (questions name units as its readers do)."""
    _learned.clear()
    _learned.update(table)


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
    """The forms a reader types: without the region, with 局/委, and the compound's initials."""
    bare = strip_region(name, place_names)
    forms = {bare, bare.replace("和", "")}
    match = BODY_SUFFIX.search(bare)
    if match:
        stem = bare[: match.start()]
        for variant in {stem, stem.replace("和", "")} | _abbreviations(stem):
            forms |= {variant + "局", variant + "委"}
    for place in place_names:  # "<place>生态环境分局" read without its place: "生态环境分局"
        if name.startswith(place):
            forms.add(name[len(place) :])
    return {f for f in forms if len(f) >= 3 and f != name}


def _abbreviations(stem: str) -> set[str]:
    """"发展和改革" → "发改"; "人力资源和社会保障" → "人社"; hand-table stems for the rest."""
    out = set()
    parts = stem.split("和")
    if len(parts) == 2 and all(len(p) >= 2 for p in parts):
        out.add(parts[0][0] + parts[1][0])
    for full, shorts in hand_table().items():
        if full in stem:
            out |= {stem.replace(full, short) for short in shorts}
    return out
