"""Stage 4, extract facts: numeric targets, responsible units, deadlines and front-matter fields.

Everything here is read off the clause text by patterns of how Chinese plans state things
("到2025年,…比重提高到27%以上", "（…按职责分工负责）"), never from a list of known answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from assistant.ingest.clean import chinese_number_value
from assistant.ingest.identity import DOC_NUMBER
from assistant.models import BOUND_COMPARATORS, Clause, MetaFact, Responsibility, Target, direction_of

# --- responsible units ------------------------------------------------------------------------
UNIT_WORDS = r"(?:负责|责任单位|牵头单位|负责单位|负责部门|责任部门|牵头部门|配合单位|参加单位|牵头)"
# "(…按职责分工负责)", "(责任单位:…)", "(牵头单位:…;配合单位:…)", "(…等负责。列第一位者为牵头单位)", "(…牵头,…参与)";
# an excerpt may end before the closing bracket.
UNIT_PAREN = re.compile(rf"\(([^()]*{UNIT_WORDS}[^()]*)(?:\)|$)")
UNIT_LINE = re.compile(r"(?:^|(?<=[。;；)]))((?:责任|牵头|负责)(?:单位|部门)[:：][^。()]+)")
LEAD_LABELS = ("牵头单位", "牵头部门", "主办单位")
SUPPORT_LABELS = ("配合单位", "配合部门", "参加单位", "参与单位", "协办单位")
GENERIC_LABELS = ("责任单位", "负责单位", "负责部门", "责任部门")
UNIT_LABEL = re.compile("(" + "|".join(LEAD_LABELS + SUPPORT_LABELS + GENERIC_LABELS) + ")[:：]?")
UNIT_SEPARATOR = re.compile(r"[、,，;；/]|\s+")
TRAILING_ROLE = re.compile(r"(?:等)?(?:按职责分工)?(?:分别)?(?:负责|落实)?$")


def canonical_unit(name: str) -> str:
    from assistant.lang.agencies import canonical_unit as canonical

    return canonical(name)


def unit_aliases() -> dict[str, str]:
    from assistant.lang.agencies import unit_aliases as aliases

    return aliases()


def parse_responsible_units(clause: Clause) -> Responsibility | None:
    """The last statement of units in the clause: they apply to the task or paragraph they close."""
    matches = [m for pattern in (UNIT_PAREN, UNIT_LINE) for m in pattern.finditer(clause.text)]
    if not matches:
        return None
    match = max(matches, key=lambda m: m.start())
    leads, supporting, lead_count = read_unit_statement(match.group(1))
    original = tuple(dict.fromkeys(leads + supporting))
    if not original:
        return None
    units = tuple(dict.fromkeys(canonical_unit(u) for u in original))  # de-duplicated, order kept
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


# --- sentences and years ------------------------------------------------------------------------
SENTENCE = re.compile(r"[^。;；!?！？]+[。;；!?！？]?")
CN_DIGITS = {"十四五": (2021, 2025), "十五五": (2026, 2030), "十三五": (2016, 2020), "十六五": (2031, 2035)}
YEAR_PHRASE = re.compile(r"到(\d{4})年|(\d{4})年(?:前|底|末)|至(\d{4})年|“?(十[三四五六]五)”?(?:期间|时期|末)")


@dataclass(frozen=True)
class Sentence:
    clause: Clause
    text: str
    start: int  # in clause.text
    end: int

    @property
    def original_span(self) -> tuple[int, int]:
        return self.clause.original_span(self.start, self.end)


@dataclass(frozen=True)
class Deadline:
    """A dated commitment: "到2025年,基本淘汰国三及以下排放标准汽车" → 2025."""

    clause_id: str
    year: int | None  # None for a recurring or relative time limit ("每年3月底前", "30日内")
    phrase: str  # "到2025年", "2030年前", "“十四五”期间", "2022年起", "每年3月31日前", "15个工作日内"
    text: str  # from the time phrase to the end of its sentence
    start: int
    end: int
    kind: str = "by"  # by (due by) / from (starting) / period (a five-year plan) / annual / within (a span)
    period: str | None = None  # "2021-2025" for “十四五”期间


CN_COUNT = "零〇一二两三四五六七八九十百"
NUMBER = rf"(?:\d+|[{CN_COUNT}]+)"
DEADLINE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("annual", re.compile(r"每年(?:\d{1,2}月)(?:\d{1,2}日)?(?:底|末)?(?:前|之前|以前)")),
    ("from", re.compile(r"(?:自|从)?(\d{4})年(?:\d{1,2}月)?(?:起|开始)")),
    ("by", re.compile(r"(?:到|至|截至)(\d{4})年(?:\d{1,2}月)?(?:底|末)?(?:前)?|(\d{4})年(?:\d{1,2}月)?(?:\d{1,2}日)?(?:底|末)?(?:前|以前|之前)|(\d{4})年(?:底|末)")),
    ("within", re.compile(rf"{NUMBER}(?:个)?(?:工作日|日|天|个月|月|年)(?:以内|之内|内)")),
    ("period", re.compile(r"“?(十[三四五六]五)”?(?:期间|时期|末|规划期内)")),
)


def split_sentences(clause: Clause) -> list[Sentence]:
    return [Sentence(clause, m.group(), m.start(), m.end()) for m in SENTENCE.finditer(clause.text) if m.group().strip()]


def year_of(match: re.Match[str]) -> tuple[int, str | None]:
    """The due year of a year phrase, and the period for a five-year plan."""
    for group in match.groups()[:3]:
        if group:
            return int(group), None
    first, last = CN_DIGITS[match.group(4)]
    return last, f"{first}-{last}"


def extract_deadlines(clause: Clause) -> list[Deadline]:
    deadlines = []
    for sentence in split_sentences(clause):
        taken: list[tuple[int, int]] = []
        for kind, pattern in DEADLINE_FORMS:
            for match in pattern.finditer(sentence.text):
                if any(a < match.end() and match.start() < b for a, b in taken) or _in_title(sentence.text, match.start()):
                    continue  # "2030年前" is already read ("30年内" of it is not another); 《2030年前…方案》 is a name
                taken.append(match.span())
                deadlines.append(_deadline(clause, sentence, kind, match))
    return sorted(deadlines, key=lambda d: d.start)


def _in_title(text: str, pos: int) -> bool:
    return text.count("《", 0, pos) > text.count("》", 0, pos)


def _deadline(clause: Clause, sentence: Sentence, kind: str, match: re.Match[str]) -> Deadline:
    year = next((int(g) for g in match.groups() if g and g.isdigit()), None)
    period = None
    if kind == "period":
        first, year = CN_DIGITS[match.group(1)]
        period = f"{first}-{year}"
    begin = sentence.start + match.start()
    start, end = clause.original_span(begin, sentence.end)
    return Deadline(clause.id, year, match.group(), clause.text[begin : sentence.end], start, end, kind, period)


# --- numeric targets ------------------------------------------------------------------------------
UNITS = sorted(
    """% ‰ 万千瓦 千瓦 MW kW 万平方米 平方米 万m2 m2 万亩 亩 m3/d 蒸吨/小时 万吨 吨 亿元 万元 元 万人 名 人 户 个 家 座 条
    台套 台 套 公里 千米 km 米 件 辆 所 处 项 班列 倍 万辆 亿吨标准煤 万吨标准煤 吨标准煤 亿立方米 万立方米 立方米 亿吨
    亿千瓦 兆瓦 万千瓦时 亿千瓦时 千瓦时 万亿斤 亿斤 万公顷 公顷 万户 万个""".split(),
    key=len,
    reverse=True,
)
# "1~2个": a range is one figure, read as written (its lower end is the number in the ledger).
QUANTITY = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?(?:[~～]\d+(?:\.\d+)?)?)(" + "|".join(re.escape(u) for u in UNITS) + ")?")
RANGE = re.compile(r"[~～]")
COMPARATORS = (
    "不低于 不高于 不少于 不超过 不小于 提高到 提高至 提升到 提升至 下降到 降低到 降至 控制在 稳定在 保持在 "
    "达到 下降 降低 增长 提高 提升 超过 完成 建成 新增 创建 新建 打造 引进 建设 改造 达"
).split()
SUFFIX_QUALIFIERS = ("及以上", "及以下", "以上", "左右", "以内", "以下")
COUNT_VERBS = ("完成", "建成", "新增", "创建", "新建", "打造", "引进", "建设", "改造")
PREFIX_QUALIFIER_WORDS = ("力争", "确保", "基本", "原则上")
BASELINE = re.compile(r"较(\d{4})年")
# A figure that only describes what it counts ("65蒸吨/小时及以上燃煤锅炉", "10亿元以上的企业").
DESCRIPTOR_AFTER = re.compile(r"^(?:及以上|及以下|以上|以下)?(?:的|[\u4e00-\u9fff])")
NOT_A_MEASURE = re.compile(r"^(?:年|月|日|次|期|届|轮|号|G|B)")


def extract_targets(clause: Clause) -> list[Target]:
    targets: list[Target] = []
    year: int | None = None
    period: str | None = None
    for sentence in split_sentences(clause):
        previous: Target | None = None
        subject = ""
        for segment_start, segment in _segments(sentence):
            for match in YEAR_PHRASE.finditer(segment):
                year, period = year_of(match)
            found = pair_respectively(segment, _segment_targets(clause, sentence, segment, segment_start, year, period, previous))
            for target in found:
                if bare_year := BARE_YEAR.fullmatch(target.indicator):  # "控制煤炭消费总量,2020年控制在42亿吨"
                    target = replace(target, indicator="", year=target.year or int(bare_year.group(1)))
                if not target.indicator and subject:  # "非化石能源消费比重稳步提升，到2025年达到32%"
                    target = replace(target, indicator=subject)
                targets.append(target)
                previous = target
            subject = _subject(segment) or subject
    return targets


BARE_YEAR = re.compile(r"(\d{4})年(?:前|底|末)?")
SUBJECT_END = re.compile(r"持续|稳步|逐步|不断|进一步|有序|明显|显著|大幅|得到|取得|保持|实现|完成|达到|提高|提升|下降|降低|控制")


def _subject(segment: str) -> str:
    """What a clause is about: its words before the first verb ("非化石能源消费比重" of "…比重稳步提升"),
    or the object of a clause that is only a verb and its object ("煤炭消费总量" of "控制煤炭消费总量")."""
    text = STRIP_WORDS.sub("", YEAR_PHRASE.sub("", segment.strip(",，:：。;； ")))
    verb = SUBJECT_END.search(text)
    head = text[: verb.start()] if verb else ""
    if verb and verb.start() == 0:
        head = text[verb.end() :]
    return head if 2 <= len(head) <= 30 and not re.search(r"\d", head) else ""


def pair_respectively(segment: str, targets: list[Target]) -> list[Target]:
    """"A、B和C分别达到x、y、z": A gets x, B gets y, C gets z (not the whole list each)."""
    pos = segment.find("分别")
    if pos < 0 or len(targets) < 2:
        return targets
    head = STRIP_WORDS.sub("", re.sub(r"(?:较|比)\d{4}年|到\d{4}年", "", segment[:pos]).strip(",，: "))
    items = [item.strip(",，: ") for item in re.split(r"[、和及与]", head) if item.strip(",，: ")]
    if len(items) != len(targets):
        return targets
    tail = SHARED_MEASURE.search(items[-1])
    if tail and len(tail.group()) < len(items[-1]):  # "受污染耕地、重点建设用地安全利用率": both are 安全利用率
        items = [item if SHARED_MEASURE.search(item) else item + tail.group() for item in items]
    first = targets[0]
    return [
        replace(
            target, indicator=item, comparator=target.comparator or first.comparator,
            direction=target.direction or first.direction, baseline=target.baseline or first.baseline,
        )  # "较2012年分别下降48%和38%": the verb and the baseline are every item's
        for target, item in zip(targets, items, strict=True)
    ]


SHARED_MEASURE = re.compile(r"[\u4e00-\u9fff]{0,4}(?:率|比重|比例|占比|强度)$")


def _segments(sentence: Sentence) -> list[tuple[int, str]]:
    out, pos = [], 0
    for piece in re.split(r"(?<=[,，:：])", sentence.text):
        out.append((pos, piece))
        pos += len(piece)
    return out


def _segment_targets(
    clause: Clause,
    sentence: Sentence,
    segment: str,
    segment_start: int,
    year: int | None,
    period: str | None,
    previous: Target | None,
) -> list[Target]:
    found = []
    cursor = 0
    quantities = _quantities(segment)
    for index, match in enumerate(quantities):
        value_text, unit = _figure(match.group(1)), match.group(2) or ""
        after = segment[match.end() :]
        before = segment[cursor : match.start()]
        comparator = "超过" if before.endswith("超") else _last_comparator(before)
        direct = bool(comparator) and before.rstrip().endswith(comparator)
        if not match.group(1)[0].isdigit() and not direct:
            continue  # a count in Chinese numerals is a target only right after its verb ("建成三个")
        suffix = next((q for q in SUFFIX_QUALIFIERS if after.startswith(q)), "")
        rest = after[len(suffix) :]
        later_measured = any(_last_comparator(segment[max(0, m.start() - 6) : m.start()]) for m in quantities[index + 1 :])
        if _describes_something_else(suffix, rest, later_measured, direct):
            continue
        if not unit and comparator not in BOUND_COMPARATORS + ("达到", "提高到"):
            continue
        listed = not comparator and _listed_after(previous, before)
        if not comparator and year is None and not suffix and re.match(r"[\u4e00-\u9fff]", rest) and not listed:
            continue  # a bare count in running text without a deadline ("4条国际物流大通道") is description
        indicator, baseline = _indicator(before, comparator, rest)
        comparator = previous.comparator if listed and previous else comparator
        direction = direction_of(comparator)
        if not indicator and previous is not None:
            indicator, baseline = previous.indicator, baseline or previous.baseline
            direction = direction or previous.direction  # "下降14.5%，力争达到15%": 15% is a fall too
        qualifiers = [w for w in PREFIX_QUALIFIER_WORDS if w in segment[: match.start()]]
        qualifiers += [suffix] if suffix else []
        if comparator in BOUND_COMPARATORS:
            qualifiers.append(comparator)
        start, end = sentence.original_span
        target = Target(
            clause_id=clause.id,
            indicator=indicator,
            comparator=comparator,
            value=float(RANGE.split(value_text)[0]),
            value_text=value_text,
            unit=unit,
            qualifier="、".join(dict.fromkeys(qualifiers)),
            year=year,
            period=period,
            baseline=baseline,
            sentence=sentence.text,
            start=start,
            end=end,
            segment=segment.strip(",，:：。;； "),
            direction=direction,
        )
        found.append(target)
        previous = target
        cursor = match.end() + len(suffix)
    return found


CN_QUANTITY = re.compile(rf"(?<![第\d{CN_COUNT}])([{CN_COUNT}]{{1,4}})(个|家|座|条|项|所|处|批|台|辆|万千瓦|万吨|万亩)")


def _quantities(segment: str) -> list[re.Match[str]]:
    """Figures in digits, and counts in Chinese numerals ("三个", "十五家"; not the word "一个")."""
    digits = [m for m in QUANTITY.finditer(segment) if not _is_year_or_ordinal(segment, m)]
    chinese = [m for m in CN_QUANTITY.finditer(segment) if m.group(1) not in ("一", "十")]
    return sorted(digits + chinese, key=lambda m: m.start())


def _figure(text: str) -> str:
    return text if text[0].isdigit() else chinese_number_value(text)


def _describes_something_else(suffix: str, rest: str, later_measured: bool, direct: bool = False) -> bool:
    """ "65蒸吨/小时及以上燃煤锅炉", "10亿元以上的企业", "300米公交站点覆盖率达到70%": not targets.

    But "下降48%和38%" is a list, and "完成14.5%的激励目标" a target: its verb stands right before it.
    """
    if not rest or not (rest.startswith("的") or re.match(r"[\u4e00-\u9fff]", rest)) or re.match(r"[和、及与]\d", rest):
        return False
    if direct and rest.startswith("的") and suffix not in ("及以上", "及以下", "以下"):
        return False
    return suffix in ("及以上", "及以下", "以下") or rest.startswith("的") or later_measured


def _is_year_or_ordinal(segment: str, match: re.Match[str]) -> bool:
    after = segment[match.end() :]
    before = segment[: match.start()]
    if match.group(2):
        return False
    return bool(NOT_A_MEASURE.match(after)) or before.endswith(("第", "较")) or len(match.group(1)) == 4 and after.startswith("年")


def _last_comparator(text: str) -> str:
    best, best_pos = "", -1
    for word in COMPARATORS:
        pos = text.rfind(word)
        if pos > best_pos or (pos == best_pos and pos >= 0 and len(word) > len(best)):
            best, best_pos = word, pos
    return best


STRIP_WORDS = re.compile(r"^(?:[,，、;；:：]|到\d{4}年|\d{4}年(?:前|底|末)|力争|确保|基本|原则上|累计|实现|推动|使|将|全区|分别)+")


def _indicator(before: str, comparator: str, rest: str) -> tuple[str, str | None]:
    """The thing measured: what precedes "提高到27%", or what a count counts ("创建绿色园区1家")."""
    baseline = None
    if m := BASELINE.search(before):
        baseline = m.group()
        before = before.replace(m.group(), "")
    pos = before.rfind(comparator) if comparator else len(before)
    head = STRIP_WORDS.sub("", before[:pos].strip())
    head = re.sub(r"(?:分别|均|普遍|原则上|力争|确保)$", "", head)
    middle = before[pos + len(comparator) :] if comparator else ""
    if comparator and comparator not in COUNT_VERBS:
        return head.strip(",，、 "), baseline  # empty: the caller reuses the previous indicator
    if not comparator:  # "完成52个老旧小区、24座公厕": a later item counts its own noun, not the one before
        head = head.rsplit("、", 1)[-1]
    noun = re.split(r"[,，。;；、]", rest, maxsplit=1)[0] or _shared_noun(rest)
    return f"{head}{comparator}{middle}{noun}".strip(",，、 "), baseline


def _listed_after(previous: Target | None, before: str) -> bool:
    """"完成52个老旧小区、24座公厕": the next item of a list the verb before the first one governs."""
    return previous is not None and previous.comparator in COUNT_VERBS and before.rstrip().endswith("、")


def _shared_noun(rest: str) -> str:
    """"A新建1.2MW、B新建3.5MW屋顶光伏项目": the noun after the list's last figure is every item's."""
    if not rest.startswith("、"):
        return ""
    clause = re.split(r"[,，。;；]", rest, maxsplit=1)[0]
    figures = list(QUANTITY.finditer(clause))
    return clause[figures[-1].end() :] if figures else ""


# --- front matter ----------------------------------------------------------------------------------
DATE_LINE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")
LABELLED = re.compile(r"^([\u4e00-\u9fff]{2,6})[:：](.+)$")


def extract_meta(clauses: list[Clause]) -> list[MetaFact]:  # noqa: C901 - one pass over labelled cover lines; each branch is one field form
    facts: list[MetaFact] = []
    last_label = ""
    for clause in clauses:
        if clause.kind != "meta":
            continue
        text = clause.text

        def add(field: str, value: str, c: Clause = clause) -> None:
            facts.append(MetaFact(field, value, c.id, c.start, c.end))

        if m := LABELLED.match(text):
            last_label = m.group(1)
            add(last_label, m.group(2).strip())
            continue
        if clause.section == "编辑委员会" and last_label and " " in text:
            add(last_label, text)  # a list of names continued on the next line
            continue
        last_label = ""
        if clause.section == "文件标题":
            add("方案名称", text)
        if m := DOC_NUMBER.search(text):
            add("文号", m.group())
        if m := re.fullmatch(r"第(\d+)期(?:\(总第(\d+)期\))?", text):
            add("期号", f"第{m.group(1)}期")
            if m.group(2):
                add("总期号", f"总第{m.group(2)}期")
        elif m := re.fullmatch(r"总第(\d+)期", text):
            add("总期号", text)
        if DATE_LINE.match(text):
            add("印发日期" if "通知" in clause.section else "出版日期", text)
        if "通知" in clause.section and re.search(r"关于.+的通知", text):
            add("通知标题", re.sub(r"\s+", "", text))
        if re.fullmatch(r".{2,20}(?:人民政府|办公室)", text) and "通知" in clause.section:
            add("发文机关", text)
        if re.fullmatch(r".{2,20}办公室", text) and clause.section == "封面":
            add("编印单位", text)
        if text.endswith(":") and "通知" in clause.section:
            add("主送机关", text.rstrip(":"))
    return facts
