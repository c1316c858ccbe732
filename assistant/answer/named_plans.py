"""Which loaded plans a question is about: the places, levels, titles and 文号 it names.

"省里2025年…", "苏州和海南的…分别是多少", "按鹤政函〔2024〕1号…": a question that names a plan is
answered from that plan only; a place no loaded plan covers is reported as missing rather than
answered from another province's plan. A question that names nothing is about every plan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Protocol

from assistant.ingest.identity import DOC_NUMBER
from assistant.lang.places import LEVEL_WORDS, SHORTENABLE, Mention, find_regions, levels_named, same_place
from assistant.lang.titles import TITLE_ENDING

# Words every plan title shares; what is left names the plan ("工业领域碳达峰", "减污降碳协同增效").
TITLE_RUN = 6  # a title quoted in part: at least this many of its distinctive characters in a row
TITLE_SHARE = 0.6  # and this share of them
NATION = re.compile(r"全国|国家层面")
# "去北京招商", "赴深圳考察": a place travelled to is where something happened, not a plan asked about.
TRAVEL = re.compile(r"(?:去|赴|前往|来到|到访|出访)$")
GENERIC_TITLE = re.compile(
    r"《|》|“|”|关于印发|的通知|(?:三年|专项)?行动计划|工作计划|若干措施|若干政策措施|实施意见|实施方案|工作方案|行动方案"
    r"|方案|规划|[（(].*?[)）]"
)
# A question that names a plan as a plan: "…方案里", "《…》", "这个文件"; beside one, title keywords quoted
# apart ("某某转型方案" for "加快某某全面某某转型工作方案") name it too.
PLAN_WORD = re.compile(TITLE_ENDING + r"|《|文件")
KEYWORD_RUN = 2  # a keyword of a title: at least two characters in a row
# "隔壁县", "邻市", "其他城市": a place other than the plans' own, named without its name — never a loaded plan.
NEIGHBOUR = re.compile(
    r"(?:隔壁|邻近|相邻|临近|周边|周围|附近|其他|其它|别的)的?(?:省份?|城市|地市|市|区县|县区|县|区)"
    r"|邻(?:省|市|县|区)|兄弟(?:省份?|城市|市|县|区县)|外(?:省|市|县)"
)
# How a level named without a plan at that level is told: "未载入省级的方案".
LEVEL_LABEL = {"国家": "国家层面", "省": "省级", "市": "市级", "县": "县（区）级"}


class Plan(Protocol):
    """What scoping needs to know of a loaded plan (see assistant/ingest/identity.py)."""

    doc: str
    title: str
    region: str  # the place the plan governs ("某市某区"), "" or 全国 for a national plan
    level: str  # 国家 / 省 / 市(州) / 县(市区), "" when unknown
    doc_number: str


@dataclass(frozen=True)
class Scope:
    docs: tuple[str, ...] = ()  # the plans the question is about; empty = every plan
    named: tuple[str, ...] = ()  # what the question named: places, levels, titles, 文号
    missing: tuple[str, ...] = ()  # places named that no loaded plan governs

    @property
    def narrowed(self) -> bool:
        return bool(self.docs)


def resolve_scope(question: str, plans: Sequence[Plan], home: Sequence[Plan] = ()) -> Scope:
    """The plans a question names, by 文号, by title, by place and by level, in that order of precision.

    With a home plan (the users' own), a question naming none is about it, "我们区"/"全区" is it and
    "市里"/"省里" are the plans above it.
    """
    docs: dict[str, None] = {}
    named: list[str] = []
    for number in DOC_NUMBER.findall(question):
        named.append(number)
        docs.update(dict.fromkeys(p.doc for p in plans if _compact(p.doc_number) == _compact(number)))
    for plan in plans_by_title(question, plans):
        named.append(plan.title)
        docs[plan.doc] = None
    titled = bool(named)
    missing: list[str] = []
    places = places_named(question, plans)
    for place in places:
        named.append(place)
        governed = [p.doc for p in plans if governs(p, place)]
        docs.update(dict.fromkeys(governed))
        if not governed and not titled:
            missing.append(place)
    for level in _levels(question, titled, bool(places)):
        named.append(level)
        at_level = _at_level(question, level, plans, places, home)
        docs.update(dict.fromkeys(p.doc for p in at_level))
        if not at_level and not places:  # "省里…" with no provincial plan loaded: said, never answered from another
            # level; beside a place, "全市" is that place's own word ("重庆市…全市要…")
            missing.append(LEVEL_LABEL.get(level, level))
    for neighbour in dict.fromkeys(NEIGHBOUR.findall(question)):
        named.append(neighbour)
        missing.append(neighbour)
    if not named and home:
        docs.update(dict.fromkeys(p.doc for p in home))
    return Scope(tuple(docs), tuple(dict.fromkeys(named)), tuple(dict.fromkeys(missing)))


def _at_level(question: str, level: str, plans: Sequence[Plan], places: list[str], home: Sequence[Plan]) -> list[Plan]:
    """The plans of a level: beside a place, those above it; else the home plan's own level is the home plan
    and the other levels are those above it ("市里" of a district's officials is their city)."""
    if home and not places and any(h.level[:1] == level[:1] for h in home):
        return list(home)
    around = places or [h.region for h in home if h.region]
    at_level = [p for p in plans if p.level[:1] == level[:1] and _above(p, around)]
    quoted = [p for p in at_level if quotes_title(question, title_core(p))]  # "全国“十三五”…": that plan
    return quoted or at_level


def _levels(question: str, titled: bool, placed: bool) -> tuple[str, ...]:
    """The levels a question names. Beside a title or 文号 they name a body ("经市政府…审议"), not a plan;
    beside a place they are relative to it, and "国家" counts only as 全国 ("国家发展改革委" is a body)."""
    if titled:
        return ()
    levels = levels_named(question)
    return tuple(level for level in levels if level != "国家" or NATION.search(question) or not placed)


def _above(plan: Plan, places: list[str]) -> bool:
    """With a place named, "省里" is the province that place lies in: "苏州…和省里的目标" → 江苏省's plan."""
    if not places or plan.level == "国家":
        return True
    own = [m.region for m in find_regions(plan.region)]
    if not own:
        return False
    return any(m.region.within(own[-1]) for place in places for m in find_regions(place)[:1])


def scope_words(question: str, plans: Sequence[Plan]) -> list[str]:
    """The literal words by which a question names plans (文号, titles, places): they say nothing about its topic."""
    words = DOC_NUMBER.findall(question)
    for plan in plans_by_title(question, plans):
        words += [w for w in (plan.title, *_titled_runs(question, plan)) if w and w in question]
    words += [question[m.start : m.end] for m in find_regions(question)]
    words += [m.group() for pattern in LEVEL_WORDS.values() for m in pattern.finditer(question)]  # "全国", "省里"
    return sorted(dict.fromkeys(words), key=len, reverse=True)


def _titled_runs(question: str, plan: Plan) -> list[str]:
    """The title words a question writes as a title ("某某方案里", "《某某》"), with their plan word: scope only.
    Written bare ("某某的目标"), the same words are also the topic, and stay in the question."""
    runs = []
    for run in (title_core(plan), quoted_run(question, title_core(plan))):
        if not run or run not in question:
            continue
        start = question.index(run)
        end = start + len(run)
        while m := GENERIC_TITLE.match(question, end):
            end = m.end()
        if end > start + len(run) or question[:start].endswith(("《", "“")):
            runs.append(question[start:end])
    return runs


def places_named(question: str, plans: Sequence[Plan] = ()) -> list[str]:
    """The most specific place of each run of places: "天津市西青区" is 西青区.

    With `plans`, a county's short name ("资源" of 资源化, "新建" of 新建厂房) counts only when a loaded plan
    governs it: two characters that are also everyday words name no place on their own.
    """
    mentions = sorted(
        (m for m in find_regions(question) if _distinctive(m) and not TRAVEL.search(question, 0, m.start)),
        key=lambda m: (m.start, -m.end),
    )
    if plans:
        mentions = [m for m in mentions if not _bare_county_name(m) or any(governs(p, m.region.name) for p in plans)]
    places: list[str] = []
    previous_end = -1
    for mention in mentions:
        if places and mention.start == previous_end and mention.region.level != "省":
            places[-1] = mention.region.name  # a place written right after its parent
        elif mention.start >= previous_end:
            places.append(mention.region.name)
        previous_end = max(previous_end, mention.end)
    return list(dict.fromkeys(places))


def _distinctive(mention: Mention) -> bool:
    """"城区", "郊区", "矿区": a one-character stem and a suffix is an everyday word before it is a place."""
    return len(SHORTENABLE.sub("", mention.region.name)) >= 2


def _bare_county_name(mention: Mention) -> bool:
    return mention.region.level == "县" and mention.end - mention.start < len(mention.region.name)


def plans_by_title(question: str, plans: Sequence[Plan]) -> list[Plan]:
    """Plans whose distinctive title words the question quotes; regionless (national) titles win ties.

    Beside a place, a title quoted is that place's plan ("贵州省“十四五”节能减排…" is not 广东省's).
    """
    matched = [p for p in plans if quotes_title(question, title_core(p)) or (not p.region and p.title in question)]
    places = places_named(question, plans)
    if places:
        return [p for p in matched if any(governs(p, place) or _titled_with(p, place) for place in places)]
    if len(matched) > 1:
        national = [p for p in matched if p.level == "国家" or not p.region]
        matched = national or matched
    return matched


def _titled_with(plan: Plan, place: str) -> bool:
    """A plan whose place is unknown (its signals disagreed) is still named by its own title's place."""
    return not plan.region and any(same_place(m.region.name, place) for m in find_regions(plan.title))


def governs(plan: Plan, place: str) -> bool:
    """The plan is that place's own: "天津市西青区" governs 西青区, not 天津市."""
    if not plan.region or plan.level == "国家":
        return False
    own = places_named(plan.region)
    return same_place(own[-1] if own else plan.region, place)


def quotes_title(question: str, core: str) -> bool:
    """The question quotes most of a title's distinctive words ("“十三五”控制温室气体排放…方案…分工")."""
    if len(core) < 4:
        return False
    if core in question:
        return True
    bare = GENERIC_TITLE.sub("", question)
    matcher = SequenceMatcher(None, core, bare, autojunk=False)
    longest = matcher.find_longest_match(0, len(core), 0, len(bare)).size
    if longest >= max(TITLE_RUN, TITLE_SHARE * len(core)):
        return True
    return bool(PLAN_WORD.search(question)) and longest >= 4 and _keyword_share(matcher) >= TITLE_SHARE * len(core)


def _keyword_share(matcher: SequenceMatcher) -> int:
    """How many of a title's characters the question quotes as keywords, in the title's order."""
    return sum(block.size for block in matcher.get_matching_blocks() if block.size >= KEYWORD_RUN)


def quoted_run(question: str, core: str) -> str:
    """The longest run of a title's distinctive words the question quotes ("“十三五”控制温室气体排放")."""
    match = SequenceMatcher(None, question, core, autojunk=False).find_longest_match(0, len(question), 0, len(core))
    return question[match.a : match.a + match.size]


def title_core(plan: Plan) -> str:
    core = GENERIC_TITLE.sub("", plan.title).strip()
    while leading := [m.end for m in find_regions(core) if m.start == 0]:
        core = core[max(leading) :]
    return core


def _compact(text: str) -> str:
    return re.sub(r"[\s〔〕\[\]（）()【】]", "", text)
