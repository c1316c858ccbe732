"""Responsible units: who leads and who supports a task ("（…按职责分工负责）", "牵头单位:…;配合单位:…")."""

from __future__ import annotations

import re

from assistant.lang.agencies import NO_ALIASES, UNIT_LINE_LABEL, UNIT_WORDS, AgencyAliases
from assistant.models import Clause, Responsibility

# "(…按职责分工负责)", "(责任单位:…)", "(牵头单位:…;配合单位:…)", "(…等负责。列第一位者为牵头单位)", "(…牵头,…参与)";
# an excerpt may end before the closing bracket.
UNIT_PAREN = re.compile(rf"\(([^()]*{UNIT_WORDS}[^()]*)(?:\)|$)")
UNIT_LINE = re.compile(rf"(?:^|(?<=[。;；)]))({UNIT_LINE_LABEL}[^。()]+)")
LEAD_LABELS = ("牵头单位", "牵头部门", "主办单位")
SUPPORT_LABELS = ("配合单位", "配合部门", "参加单位", "参与单位", "协办单位")
GENERIC_LABELS = ("责任单位", "负责单位", "负责部门", "责任部门")
UNIT_LABEL = re.compile("(" + "|".join(LEAD_LABELS + SUPPORT_LABELS + GENERIC_LABELS) + ")[:：]?")
UNIT_SEPARATOR = re.compile(r"[、,，;；/]|\s+")
TRAILING_ROLE = re.compile(r"(?:等)?(?:按职责分工)?(?:分别)?(?:负责|落实)?$")


def parse_responsible_units(clause: Clause, aliases: AgencyAliases = NO_ALIASES) -> Responsibility | None:
    """The last statement of units in the clause: they apply to the task or paragraph they close.

    `aliases` (the corpus's) gives each unit its canonical name; `original` keeps the spelling as written.
    """
    matches = [m for pattern in (UNIT_PAREN, UNIT_LINE) for m in pattern.finditer(clause.text)]
    if not matches:
        return None
    match = max(matches, key=lambda m: m.start())
    leads, supporting, lead_count = read_unit_statement(match.group(1))
    original = tuple(dict.fromkeys(leads + supporting))
    if not original:
        return None
    units = tuple(dict.fromkeys(aliases.canonical(u) for u in original))  # de-duplicated, order kept
    lead_count = min(lead_count, len(units))
    start, end = clause.original_span(match.start(), match.end())
    return Responsibility(clause.id, units, original, start, end, lead_count)


def read_unit_statement(statement: str) -> tuple[list[str], list[str], int]:
    """Lead units, supporting units, and how many lead (0: the plan says no unit leads)."""
    no_lead = "未明确牵头" in statement
    first = statement.split("。", 1)[0]
    if UNIT_LABEL.search(first):
        leads, supporting = _labelled_units(first)
    elif "牵头" in first:
        lead_text, _, rest = first.partition("牵头")
        leads, supporting = split_units(lead_text), split_units(re.sub(r"(?:参与|配合|参加|协助|协同)\S{0,2}$", "", rest))
    else:
        role = re.search(r"(?:等)?(?:按职责分工)?负责", first)
        lead_text, rest = (first[: role.start()], first[role.end() :]) if role else (first, "")
        units = split_units(lead_text)
        return units[:1], units[1:] + split_units(rest), 0 if no_lead else 1
    return leads, supporting, 0 if no_lead else len(leads)


def _labelled_units(text: str) -> tuple[list[str], list[str]]:
    leads: list[str] = []
    supporting: list[str] = []
    labels = list(UNIT_LABEL.finditer(text))
    for label, following in zip(labels, labels[1:] + [None], strict=True):
        names = split_units(text[label.end() : following.start() if following else len(text)])
        if label.group(1) in SUPPORT_LABELS:
            supporting += names
        elif label.group(1) in LEAD_LABELS:
            leads += names
        else:  # a generic list: the first named leads (the plans' convention), the others support
            leads, supporting = (leads + names[:1], supporting + names[1:]) if not leads else (leads, supporting + names)
    return leads, supporting


def split_units(text: str) -> list[str]:
    """"市发改委、市工信局等" → ["市发改委", "市工信局"]; a bracketed aside ("各市〔特区、区〕") is kept whole."""
    protected = re.sub(r"〔[^〕]*〕|\[[^\]]*\]", lambda m: m.group().replace("、", "\0"), text)
    names = []
    for piece in UNIT_SEPARATOR.split(protected):
        name = TRAILING_ROLE.sub("", piece.replace("\0", "、").strip(" .。:：")).strip()
        if len(name) >= 2 and not re.fullmatch(r"下同|以下.*|等|相关|有关", name):
            names.append(name)
    return names
