"""Stage 2b, segmentation: a document flattened to one line, cut back into its items before structure is read.

A page copied without its line breaks (and some of its punctuation) runs "…制定本方案。一、总体要求（一）指导
思想…1.推动…2.加快…" together. Outline markers are recognised by their sequence, not their look alone:
"统一、" or "增长1." is an ordinal only where it is the next number of its level; 二、 restarts （一）, （一）
restarts 1., 1. restarts 一是. An item number run into a figure before it ("达到1002.推进…" for "100" and
"2.") is cut where the expected number begins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CN = "一二三四五六七八九十"
MIN_MARKERS = 2  # a chain of at least this many numbers in sequence
# Where a level-1 or 一是 ordinal may stand: the start, after a sentence or clause, a space or a closing mark.
AFTER_SENTENCE = re.compile(r"(?:^|[。；;：:！？!?”\")）\s])$")
MARKERS = (
    ("l1", re.compile(rf"([{CN}]{{1,3}})、")),
    ("l2", re.compile(rf"[（(]([{CN}]{{1,3}})[)）]")),
    ("l3", re.compile(r"(\d{1,4})[.．](?!\d)")),
    ("l4", re.compile(rf"([{CN}]{{1,3}})是")),
)
LEVELS = ("l1", "l2", "l3", "l4")


@dataclass(frozen=True)
class Marker:
    level: str
    value: int
    start: int  # where the ordinal begins (after a figure it was run into)


def segment_flat_line(line: str, base: int) -> list[tuple[int, str]]:
    """Cut a long line without line structure before each outline ordinal of a valid sequence.

    Returns (offset, piece) pairs like `split_run_in_headings`; the line whole when no chain is found.
    """
    cuts = sorted({m.start for m in outline_markers(line)} - {0})
    if len(cuts) < MIN_MARKERS - 1:
        return [(base, line)]
    bounds = [0, *cuts, len(line)]
    return [(base + a, line[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if line[a:b].strip()]


def outline_markers(line: str) -> list[Marker]:
    """The ordinals that continue their level's sequence, left to right."""
    candidates = sorted((c for level, pattern in MARKERS for c in _candidates(line, level, pattern)), key=lambda c: c.start)
    expected = dict.fromkeys(LEVELS, 1)
    accepted: list[Marker] = []
    for marker in candidates:
        if marker.value != expected[marker.level] or (accepted and marker.start < accepted[-1].start + 2):
            continue
        accepted.append(marker)
        expected[marker.level] += 1
        for deeper in LEVELS[LEVELS.index(marker.level) + 1 :]:
            expected[deeper] = 1
    accepted = _without_lone_points(accepted)
    return accepted if len(accepted) >= MIN_MARKERS else []


def _without_lone_points(markers: list[Marker]) -> list[Marker]:
    """"一是" counts only when its "二是" follows under the same heading: a lone one is a word ("统一是")."""
    kept = []
    for i, marker in enumerate(markers):
        if marker.level == "l4" and marker.value == 1:
            following = next((m for m in markers[i + 1 :] if m.level != "l4" or m.value == 2), None)
            if following is None or following.level != "l4":
                continue
        kept.append(marker)
    return kept


def _candidates(line: str, level: str, pattern: re.Pattern[str]) -> list[Marker]:
    found = []
    for match in pattern.finditer(line):
        digits = match.group(1)
        if level == "l3":
            found += _item_numbers(line, match)
        elif AFTER_SENTENCE.search(line[: match.start()]) or level != "l1":  # 一是 is checked by its chain
            found.append(Marker(level, _chinese_value(digits), match.start()))
    return found


def _item_numbers(line: str, match: re.Match[str]) -> list[Marker]:
    """"2." as written, or each number a figure before it may end in ("1002." → 2, 02): the sequence chooses."""
    digits, start = match.group(1), match.start()
    if start and line[start - 1] in "0123456789.．%":
        return []
    return [Marker("l3", int(digits[i:]), start + i) for i in range(len(digits)) if digits[i] != "0"]


def _chinese_value(numeral: str) -> int:
    if numeral == "十":
        return 10
    if numeral.startswith("十"):
        return 10 + CN.index(numeral[1]) + 1
    if numeral.endswith("十"):
        return (CN.index(numeral[0]) + 1) * 10
    if "十" in numeral:
        tens, ones = numeral.split("十")
        return (CN.index(tens) + 1) * 10 + CN.index(ones) + 1
    return CN.index(numeral) + 1 if len(numeral) == 1 else 0
