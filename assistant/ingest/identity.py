"""Stage 3b, identity: which plan a document is (title, issuer, region, level, 文号, date, period).

Read from the document's own text — a 通知 header, the title line, a 《…》 title a digest quotes, the
文号 line — and only when the text names no plan, from the file name (flagged). The place comes from
every signal a reader uses (`place_plan`): the places the title, issuer, signature and file name name,
the 文号's prefix read through the gazetteer (a province's abbreviation, a prefecture's first characters),
the body's scope (全市/全省/全县…) and the places it names most. Signals that disagree, or none, leave
the place unknown (""), never 全国; a plan is national only on positive evidence (a national issuer,
a 国发/部委 文号, a body about 全国). Each field records where it was read (`PlanIdentity.sources`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import PurePath

from assistant.ingest.clean import normalise_text
from assistant.lang.doc_numbers import DOC_NUMBER, DOC_NUMBER_YEAR
from assistant.lang.periods import FULL_DATE, period_named_in
from assistant.lang.places import (
    MUNICIPALITY_CODES,
    SELF_REFERENCE,
    Region,
    doc_number_places,
    find_regions,
    full_name,
    is_national_doc_prefix,
    read_place_name,
    region_votes,
    short_name,
)
from assistant.lang.titles import TITLE_ENDING
from assistant.models import Clause, Document, PlanIdentity

PLAN_WORD = TITLE_ENDING
NOTICE = re.compile(rf"印发《?([^《》,，。:：;；()]{{4,48}}?{PLAN_WORD})》?(?:\([^()]*\))?的(?:通知|函)")
TITLE_LINE = re.compile(rf"^(?:【[^】]*】)?([^,，。:：;；()《》]{{4,40}}{PLAN_WORD})(?:\.(?:docx?|pdf|txt))?$")
QUOTED = re.compile(rf"《([^《》]{{4,40}}{PLAN_WORD})》")
CITING = re.compile(r"(?:落实|贯彻|根据|按照|依据|对照|参照|发布的)[^。]{0,12}$")
ANNOUNCED = re.compile(r"(?:印发|发布|出台|制定)[^。《》]{0,4}$")
ISSUER = re.compile(
    r"((?:[\u4e00-\u9fff]{2,16}?(?:人民政府办公室|人民政府办公厅|人民政府|政府|管委会|管理委员会|办公室|办公厅|委员会|部|委|局|厅)"
    r"(?:[、,，和 ]|等部门|等\d+部门)*)+)(?:联合)?(?:正式)?(?:关于)?印发"
)
NATIONAL = re.compile(r"^(?:国务院|国家|中共中央|全国|中央)|部$|部[、 ]|^(?:生态环境|工业和信息化|交通运输|农业农村|住房和城乡建设)部")
ISSUER_LABEL = re.compile(r"(?:发布机构|发文机关|发布单位|发文单位)[:：]\s*([\u4e00-\u9fff]{2,30}?(?:人民政府|管委会|办公室|办公厅|部|局|委))")
NATIONAL_BODY = r"(?:国务院|中共中央|国家[\u4e00-\u9fff]{1,8}?(?:委|部|局)|[\u4e00-\u9fff]{2,8}部)"
# A page that reports a national body's plan: "从国家某委获悉", "国务院总理…在政府工作报告中".
NATIONAL_SOURCE = re.compile(rf"(?:从|据){NATIONAL_BODY}[^。]{{0,6}}获悉|国务院总理")
SIGNED_DATE = re.compile(r"(?:(?:颁布|发布|成文|印发)(?:时间|日期)[:：]|(?:人民政府|管委会))" + FULL_DATE.pattern)
SIGNATURE = re.compile(r"[\u4e00-\u9fff]{2,20}(?:人民政府|管委会|办公室|办公厅|部|局)$")
GARBLE = re.compile(r"[?？]+")  # characters a web page could not encode


# A body that issues or signs without naming its place: "市人民政府", "县政府办公室", "区人民政府办公室".
PLACELESS_BODY = re.compile(r"^(省|市|州|县|区|旗)(?:人民)?政府")
LOCAL_BODY = re.compile(r"[省市州县区旗](?:委|政府|人民政府)")
SCOPE_WORDS = {level: re.compile(words) for level, words in SELF_REFERENCE.items()}  # the plan's own scope
LEVEL_NAMES = {"国家": "国家", "省": "省", "市": "市州", "县": "县市区"}
# What the plan says of itself decides its place; the 文号 (a city's nickname "宁", "洪" is no name's first
# character), the body's places and the file name only confirm it, or place it when the plan names none.
STRONG = ("标题", "发文机关", "落款")
CITED = re.compile(r"《[^《》]*》|“[^“”]*”")  # titles a body quotes belong to other plans


@dataclass(frozen=True)
class Signal:
    """One reading of where a plan is for, and where it was read."""

    source: str  # 标题 / 发文机关 / 落款 / 文号 / 正文 / 文件名
    candidates: tuple[Region, ...]  # the regions it may mean (one when it names the place)
    name: str = ""  # the place as written when it is not in the gazetteer ("某某市某某经开区")


@dataclass(frozen=True)
class Placement:
    region: str
    level: str
    sources: tuple[str, ...]


def identify(document: Document, clauses: list[Clause]) -> PlanIdentity:
    lines = [GARBLE.sub("", c.text) for c in clauses]
    title = find_title(lines)
    from_file = not title
    if from_file:
        title = normalise_text(PurePath(document.name).stem)
    issuer = find_issuer(lines)
    doc_number = find_doc_number(lines)
    named = [("文件名" if from_file else "标题", title), ("发文机关", issuer)]
    named += [("落款", line) for line in lines if SIGNATURE.fullmatch(line)]
    if not from_file:
        named.append(("文件名", normalise_text(PurePath(document.name).stem)))
    placement = place_plan(named, doc_number, lines)
    sources = [("标题", "文件名" if from_file else "正文"), ("发文机关", "正文" if issuer else ""), ("文号", "正文" if doc_number else "")]
    sources.append(("地区/层级", "、".join(placement.sources) or "未知（无依据或依据矛盾）"))
    return PlanIdentity(
        doc=document.name,
        title=title,
        issuer=issuer,
        region=placement.region,
        level=placement.level,
        doc_number=doc_number,
        date=find_date(lines),
        period=period_named_in(title),
        title_from_file_name=from_file,
        sources=tuple((field, source) for field, source in sources if source),
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


def place_plan(named: list[tuple[str, str]], doc_number: str, lines: list[str]) -> Placement:
    """Region and level from every signal a reader uses: the places the title, issuer and signature name,
    the 文号's prefix, the body's own scope (全市…) and the places it names most, the file name.

    Signals that disagree, or none at all, leave the plan unknown; a plan is national only on positive
    evidence (a national issuer or 文号, a body that speaks of 全国).
    """
    body = CITED.sub("", "".join(lines))
    level = scope_level(named, body)
    signals = [s for source, text in named if (s := named_signal(source, text))]
    prefix = doc_number_prefix(doc_number)
    if prefix and (found := doc_number_places(prefix)):
        signals.append(Signal("文号", tuple(found)))
    if best := body_region(body, level):
        signals.append(Signal("正文", (best,)))
    strong = [s for s in signals if s.source in STRONG]
    national = national_sources(named, prefix, body)
    if national and not strong:
        return Placement("全国", "国家", tuple(national))
    if not strong:
        return agree(signals, level, region_votes(body))
    placement = agree(strong, level, region_votes(body))
    confirming = [s.source for s in signals if s not in strong and agree([*strong, s], level, {}).region == placement.region]
    return replace(placement, sources=tuple(dict.fromkeys([*placement.sources, *confirming]))) if placement.region else placement


def named_signal(source: str, text: str) -> Signal | None:
    """The place a title, issuer or signature names by its suffixes ("某某省某某市…"): the gazetteer's region
    when it is one, else its most specific known part (the city of a new zone), else as written only."""
    region, _ = parse_region(text)
    if not region or region == "全国":
        return None
    known = [m for m in find_regions(region) if m.region.code]
    return Signal(source, (known[-1].region,) if known else (), region)


def agree(signals: list[Signal], level: str, body_votes: dict[Region, int]) -> Placement:
    """The most specific region every signal allows; unknown when they conflict or allow several."""
    known = [s for s in signals if s.candidates]
    if not known:
        return _agree_written([s for s in signals if s.name])
    choices: list[Region] = []
    for signal in known:
        fitting = [r for r in signal.candidates if _fits_level(r, level)] or list(signal.candidates)
        choices = fitting if not choices else _narrow(choices, fitting)
        if not choices:
            return Placement("", "", ())
    if len(choices) > 1:
        choices = _named_most(choices, body_votes)
    if len(choices) != 1:
        return Placement("", "", ())
    (region,) = choices
    sources = tuple(dict.fromkeys(s.source for s in known))
    written = [s.name for s in known if s.name and s.candidates == (region,)]  # "某某县", "某市某某经开区" as written
    if not written:
        return Placement(full_name(region), LEVEL_NAMES[region.level], sources)
    name = max(written, key=len)
    return Placement(name, parse_region(name)[1] or LEVEL_NAMES[region.level], sources)


def _named_most(choices: list[Region], votes: dict[Region, int]) -> list[Region]:
    """Between candidates a 文号 leaves ("宿…": two prefectures), the one the body names, if only one is."""
    named = [r for r in choices if votes.get(r, 0)]
    return named if len(named) == 1 else choices


def _narrow(choices: list[Region], fitting: list[Region]) -> list[Region]:
    """Candidates two signals both allow, the more specific of each compatible pair."""
    kept = []
    for a in choices:
        for b in fitting:
            if a.within(b):
                kept.append(a)
            elif b.within(a):
                kept.append(b)
    return list(dict.fromkeys(kept))


def _agree_written(written: list[Signal]) -> Placement:
    """Places named but none in the gazetteer (a new district, "某某市"): the fullest spelling, provided every
    written spelling is part of it."""
    if not written:
        return Placement("", "", ())
    names = sorted({s.name for s in written}, key=len)
    fullest = names[-1]
    if not all(_same_or_part(name, fullest) for name in names):
        return Placement("", "", ())
    return Placement(fullest, parse_region(fullest)[1], tuple(dict.fromkeys(s.source for s in written)))


def _same_or_part(name: str, fullest: str) -> bool:
    return name in fullest or short_name(name) in fullest


def _fits_level(region: Region, level: str) -> bool:
    """"全市" of 北京市 (a municipality) and "全区" of an autonomous region are provincial scopes."""
    if not level:
        return True
    if level == region.level:
        return True
    municipality = region.level == "省" and region.code[:2] in MUNICIPALITY_CODES
    return (level == "市" and municipality) or (level == "县" and region.level == "省" and region.name.endswith("自治区"))


def scope_level(named: list[tuple[str, str]], body: str) -> str:
    """The level a plan speaks at: an issuer without its place ("市人民政府"), else the body's scope word
    (全省/全市/全县…) when it clearly outnumbers the others."""
    for _, text in named:
        if m := PLACELESS_BODY.match(text):
            return {"省": "省", "市": "市", "州": "市"}.get(m.group(1), "县")
    counts = {level: len(pattern.findall(body)) for level, pattern in SCOPE_WORDS.items()}
    national = counts.pop("国家")  # local plans speak of 全国碳市场 too: 全国 counts only where no local scope does
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    (top, most), (_, second) = ranked[0], ranked[1]
    if most >= 2 and most >= 2 * second:
        return top
    return "国家" if national >= 3 and 3 * sum(counts.values()) <= national else ""


def body_region(body: str, level: str) -> Region | None:
    """The region at the plan's level that its body names clearly most (its own districts adding up)."""
    if not level or level == "国家":
        return None
    votes = region_votes(body)
    ranked = sorted(((n, r) for r, n in votes.items() if _fits_level(r, level)), key=lambda item: -item[0])
    if not ranked:
        return None
    most = ranked[0][0]
    second = ranked[1][0] if len(ranked) > 1 else 0
    return ranked[0][1] if most >= 2 and most >= 2 * second else None


def doc_number_prefix(doc_number: str) -> str:
    year = DOC_NUMBER_YEAR.search(doc_number)
    return doc_number[: year.start()].strip() if year else ""


def national_sources(named: list[tuple[str, str]], prefix: str, body: str) -> list[str]:
    """Where a plan shows it is national: a national issuer ("市委某部" is a city's), a 国发/部委 文号, a body
    that speaks of 全国 or reports a national body's plan."""
    sources = [
        source for source, text in named
        if source in ("标题", "发文机关", "落款") and NATIONAL.search(text) and not LOCAL_BODY.match(text)
    ]
    if prefix and is_national_doc_prefix(prefix):
        sources.append("文号")
    if scope_level([], body) == "国家" or NATIONAL_SOURCE.search(body[:200]):
        sources.append("正文")
    return list(dict.fromkeys(sources))


def parse_region(name: str) -> tuple[str, str]:
    """"某某省某某市碳达峰实施方案" → ("某某省某某市", "市州"); a national body's name → ("全国", "国家")."""
    place, level = read_place_name(name)
    if NATIONAL.search(name) and not place:
        return "全国", "国家"
    return place, LEVEL_NAMES.get(level, "")


def document_rows(knowledge) -> list[dict]:
    """One row per document for `planqa docs`: which plan it is, and whether its title is only the file name."""
    rows = []
    for document in knowledge.documents:
        plan = knowledge.identities[document.name]
        rows.append({
            "id": PurePath(document.name).stem, "标题": plan.title, "层级": plan.level, "地区": plan.region,
            "文号": plan.doc_number, "日期": plan.date, "期间": plan.period,
            "标题来源": "文件名 / file name" if plan.title_from_file_name else "正文",
            "来源": "；".join(f"{field}←{source}" for field, source in plan.sources),
        })
    return rows
