"""Numeric targets: indicator, comparator, value, unit, qualifier, year and baseline ("到2025年,…比重提高到27%以上").

Read off the clause text by patterns of how Chinese plans state things, never from a list of known answers.
"""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.facts.deadlines import CN_COUNT
from assistant.facts.sentences import Sentence, split_sentences
from assistant.ingest.clean import chinese_number_value
from assistant.lang.periods import YEAR_PHRASE, year_of
from assistant.models import (
    BOUND_COMPARATORS,
    PREFIX_QUALIFIERS,
    SUFFIX_QUALIFIERS,
    Clause,
    Target,
    direction_of,
)

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
COUNT_VERBS = ("完成", "建成", "新增", "创建", "新建", "打造", "引进", "建设", "改造")
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
        qualifiers = [w for w in PREFIX_QUALIFIERS if w in segment[: match.start()]]
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
