"""Stage 2, clean: repair PDF-extraction damage while remembering where every character came from.

The bulletin is text extracted from a PDF: a page break splits a sentence (or a word) into two
paragraphs, sometimes repeating a fragment on both sides ("区住房和城乡建设局、" / "建设局、区…"),
and widths and spaces vary ("到 2025 年", "（" vs "("). Cleaning only deletes characters or
replaces one character by its normal form, so each cleaned character keeps the offset of its
source character: any cleaned span maps back to a verbatim slice of the original file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from assistant.ingest.segment import segment_flat_line
from assistant.lang.agencies import ENDS_WITH_UNITS
from assistant.lang.text import to_simplified

TERMINAL_PUNCTUATION = "。！？；：!?;:"
# A repeated fragment shorter than this is too likely to be a real repetition ("的的").
MIN_REPEAT = 3
MAX_REPEAT = 24
# Lines shorter than this are titles, signatures or dates: never glued to the next line.
MIN_JOINABLE_CHARS = 15

CN_NUM = "一二三四五六七八九十"
HEADING_START = re.compile(
    rf"^(?:[{CN_NUM}]+、|[(（][{CN_NUM}]+[)）]|\d{{1,2}}[.．、](?!\d)|\d{{1,2}}月\d{{1,2}}日|同日|\d{{4}}年\d{{1,2}}月.{{0,12}}大事记)"
)
SENTENCE_PUNCTUATION = re.compile(r"[。,，;；]")  # a line with these is running text, not a heading
LIST_PUNCTUATION = re.compile(r"[、:：]")  # allowed in a heading ("一、总体要求"), not in a title or a signature
MAX_HEADING_CHARS = 40


@dataclass(frozen=True)
class Paragraph:
    """A logical paragraph: normalised `text` and, per character, its offset in the original."""

    text: str
    offsets: tuple[int, ...]
    new_part: bool = False  # the first paragraph after a blank line where blank lines separate parts (excerpts)

    @property
    def start(self) -> int:
        return self.offsets[0]

    @property
    def end(self) -> int:
        return self.offsets[-1] + 1


def clean_document(original: str) -> list[Paragraph]:
    """Normalise each line, then glue lines that a page break split, dropping repeated fragments."""
    paragraphs: list[Paragraph] = []
    lines = split_lines(original)
    width = wrap_width(lines)
    blank_is_boundary = blank_lines_separate_parts(original)
    for line in lines:
        blank = bool(paragraphs) and bool(BLANK_LINE.search(original, paragraphs[-1].end, line.start))
        full_line = bool(width) and bool(paragraphs) and len(paragraphs[-1].text) >= (width or 0)  # a PDF page ends mid-sentence
        if paragraphs and not (blank and blank_is_boundary and not full_line) and should_join(paragraphs[-1].text, line.text, width):
            paragraphs[-1] = join_page_break(paragraphs[-1], line)
        else:
            new_part = blank and (blank_is_boundary or is_cut_off(paragraphs[-1].text))
            paragraphs.append(replace(line, new_part=new_part))
    return paragraphs


BLANK_LINE = re.compile(r"\n[ \t\u3000]*\n")


def blank_lines_separate_parts(original: str) -> bool:
    """Where blank lines are rare they separate parts (excerpts, pages of a web page), never one sentence."""
    lines = original.split("\n")
    blank = sum(1 for line in lines if not line.strip())
    return blank * 4 < len(lines) - blank


def is_cut_off(text: str) -> bool:
    """A long paragraph that stops mid-sentence before a blank line: an excerpt ended there."""
    return len(text) >= 60 and text[-1] not in TERMINAL_PUNCTUATION + ")）”\"】》…"


def split_lines(original: str) -> list[Paragraph]:
    """Non-empty lines of the original, each normalised, with offsets."""
    lines = []
    for match in re.finditer(r"[^\n]+", original):
        long_line = len(match.group()) >= LONG_LINE
        for start, piece in split_long_line(match.group(), match.start()):
            chars, offsets = normalise_chars(piece, start)
            if long_line:
                chars, offsets = drop_wrap_spaces(chars, offsets)
            paragraph = strip_paragraph(chars, offsets)
            if paragraph:
                lines.append(paragraph)
    return lines


# A .doc/.pdf conversion may put a whole page on one line, headings run into the text after a space.
LONG_LINE = 200
RUN_IN_HEADING = re.compile(
    rf"\s(?=(?:[{CN_NUM}]+[、,，]{{1,2}}\S|[(（][{CN_NUM}]+[)）]\S|第[{CN_NUM}]+[章条]\s?\S|\d{{1,2}}[.．](?!\d)\S))"
)


def split_run_in_headings(line: str, base: int) -> list[tuple[int, str]]:
    """Cut a very long line before each outline marker that follows a space ("… 一、总体要求 (一)…")."""
    if len(line) < LONG_LINE:
        return [(base, line)]
    cuts = [0]
    for m in RUN_IN_HEADING.finditer(line):
        cuts.append(m.end())
        if title := RUN_IN_TITLE.match(line, m.end()):  # "(一)指导思想 以习近平…": the title ends at the space
            cuts.append(title.end())
    cuts.append(len(line))
    return [(base + a, line[a:b]) for a, b in zip(cuts, cuts[1:], strict=False) if line[a:b].strip()]


def split_long_line(line: str, base: int) -> list[tuple[int, str]]:
    """A long line's headings run in after spaces; without even those, its ordinals in sequence (segment.py)."""
    pieces = split_run_in_headings(line, base)
    return segment_flat_line(line, base) if len(line) >= LONG_LINE and len(pieces) == 1 else pieces


RUN_IN_TITLE = re.compile(rf"(?:[{CN_NUM}]+、|[(（][{CN_NUM}]+[)）]|第[{CN_NUM}]+[章条])\s?[^\s，,。；;：:、]{{2,20}}(?=\s)")


def drop_wrap_spaces(chars: list[str], offsets: list[int]) -> tuple[list[str], list[int]]:
    """In a page-long line the spaces between Chinese characters are former line ends, not word gaps."""
    keep = [
        i for i, ch in enumerate(chars)
        if ch != " " or not (0 < i < len(chars) - 1 and _is_cjk(chars[i - 1]) and _is_cjk(chars[i + 1]))
    ]
    return [chars[i] for i in keep], [offsets[i] for i in keep]


def normalise_text(text: str) -> str:
    """The matching form of any string (a question, a quote): same rules as the corpus."""
    chars, _ = normalise_chars(text, 0)
    return "".join(chars).strip()


def normalise_chars(text: str, base: int) -> tuple[list[str], list[int]]:
    chars: list[str] = []
    offsets: list[int] = []
    dropped = dropped_positions(text)
    for i, ch in enumerate(to_simplified(text)):
        if i in dropped:
            continue
        for piece in fold_char(ch):
            chars.append(piece)
            offsets.append(base + i)
    return drop_inner_spaces(*repair_garbled_conjunction(*drop_doubled_commas(chars, offsets)))


# "業(yè)": a news page that prints the pinyin of a traditional character after it.
PINYIN_INSERTION = re.compile(r"(?<=[\u3400-\u9fff])\((?=[a-zü]*[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ])[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,7}\)")
# A page number printed between dashes: "—1—", "— 2 —", "- 3 -".
PAGE_MARKER = re.compile(r"(?:^|(?<=\s))[—－-]\s?\d{1,3}\s?[—－-](?=\s|$)")


def dropped_positions(text: str) -> set[int]:
    """Characters that are not part of the text: pinyin insertions and page markers."""
    return {i for pattern in (PINYIN_INSERTION, PAGE_MARKER) for m in pattern.finditer(text) for i in range(*m.span())}


def drop_doubled_commas(chars: list[str], offsets: list[int]) -> tuple[list[str], list[int]]:
    """A web page's stray comma before another mark (",,", ",、") is noise: drop the comma."""
    keep = [i for i, ch in enumerate(chars) if not (ch in ",，" and i + 1 < len(chars) and chars[i + 1] in ",，、。")]
    if len(keep) == len(chars):
        return chars, offsets
    return [chars[i] for i in keep], [offsets[i] for i in keep]


def fold_char(ch: str) -> str:
    """Full-width ASCII → half-width, ideographic space → space; Chinese punctuation kept as is.

    (Traditional characters are folded before, by `to_simplified`.)"""
    if ch in "\t\u3000\xa0":
        return " "
    if "\uff01" <= ch <= "\uff5e" or ch in "²³¹":
        return unicodedata.normalize("NFKC", ch)
    return ch


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _is_ascii_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def drop_inner_spaces(chars: list[str], offsets: list[int]) -> tuple[list[str], list[int]]:
    """Drop spaces except between two English words or two Chinese words (lists of names)."""
    out_chars: list[str] = []
    out_offsets: list[int] = []
    n = len(chars)
    for i, ch in enumerate(chars):
        if ch == " ":
            left = out_chars[-1] if out_chars else ""
            j = i
            while j < n and chars[j] == " ":
                j += 1
            right = chars[j] if j < n else ""
            keep = (_is_ascii_letter(left) and _is_ascii_letter(right)) or (_is_cjk(left) and _is_cjk(right))
            if not keep or (out_chars and out_chars[-1] == " "):
                continue
        out_chars.append(ch)
        out_offsets.append(offsets[i])
    return out_chars, out_offsets


GARBLED_AND = re.compile(r"(?<=[\u4e00-\u9fff]) ?and ?(?=[\u4e00-\u9fff])")


def repair_garbled_conjunction(chars: list[str], offsets: list[int]) -> tuple[list[str], list[int]]:
    """The extraction turned some "和" into an English "and" between Chinese words; turn it back."""
    text = "".join(chars)
    if "and" not in text:
        return chars, offsets
    out_chars: list[str] = []
    out_offsets: list[int] = []
    last = 0
    for match in GARBLED_AND.finditer(text):
        out_chars += chars[last : match.start()]
        out_offsets += offsets[last : match.start()]
        out_chars.append("和")
        out_offsets.append(offsets[match.start() + match.group().index("a")])
        last = match.end()
    out_chars += chars[last:]
    out_offsets += offsets[last:]
    return out_chars, out_offsets


def strip_paragraph(chars: list[str], offsets: list[int]) -> Paragraph | None:
    text = "".join(chars)
    left = len(text) - len(text.lstrip())
    right = len(text.rstrip())
    if right <= left:
        return None
    return Paragraph(text[left:right], tuple(offsets[left:right]))


def is_heading_line(text: str) -> bool:
    """A short line without sentence punctuation: an outline heading ("一、总体要求", "(二)主要目标")."""
    return len(text) <= MAX_HEADING_CHARS and not SENTENCE_PUNCTUATION.search(text)


def is_title_like(text: str) -> bool:
    """A heading line without a list mark or colon either: a title, a signature, a date (never glued to the next)."""
    return is_heading_line(text) and not LIST_PUNCTUATION.search(text)


def wrap_width(lines: list[Paragraph]) -> int | None:
    """The line width of text extracted from a PDF that wraps every line (most lines equally long).

    Text exported paragraph by paragraph (like the bulletin's .txt) has no such width: None.
    """
    lengths = [len(line.text) for line in lines if len(line.text) >= MIN_JOINABLE_CHARS]
    if len(lengths) < 5:
        return None
    widest = max(set(lengths), key=lambda n: sum(1 for m in lengths if abs(m - n) <= 1))
    share = sum(1 for m in lengths if abs(m - widest) <= 1) / len(lengths)
    return widest - 1 if share >= 0.3 else None


def should_join(previous: str, following: str, width: int | None = None) -> bool:
    """Did a page break (or, in a wrapped PDF, a line break) split `previous` from `following`?"""
    if width and len(previous) >= width and not HEADING_START.match(following):
        return not ENDS_WITH_UNITS.search(previous)  # a full line continues on the next
    if len(previous) < MIN_JOINABLE_CHARS or is_title_like(previous):
        return False
    if previous[-1] in TERMINAL_PUNCTUATION or ENDS_WITH_UNITS.search(previous):
        return False
    if not (_is_cjk(previous[-1]) or previous[-1] in "，,、)）”" or previous[-1].isdigit()):
        return False
    if re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", previous):  # a spaced list of names
        return False
    return not HEADING_START.match(following)


def join_page_break(previous: Paragraph, following: Paragraph) -> Paragraph:
    skip = repeated_fragment_length(previous.text, following.text)
    return Paragraph(previous.text + following.text[skip:], previous.offsets + following.offsets[skip:], previous.new_part)


def repeated_fragment_length(previous: str, following: str) -> int:
    """Length of the longest fragment printed both at the end of one page and the start of the next."""
    for size in range(min(MAX_REPEAT, len(previous), len(following)), MIN_REPEAT - 1, -1):
        if previous.endswith(following[:size]):
            return size
    return 0


# --- Chinese numerals in questions ("百分之二十七", "十六点二四万千瓦", "二〇二五年") --------------------
CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_NUMBER = re.compile(r"(百分之)?([零〇一二两三四五六七八九十百千]+(?:点[零〇一二三四五六七八九]+)?)(?=(%|万|亿|个|家|座|条|台|名|件|户|亩|公里|千米|米|年|月|日|号|人|项|吨|平方米|千瓦|期|次))?")
FIVE_YEAR_PLANS = re.compile(r"十[一二三四五六七八九]五")


def chinese_number_value(text: str) -> str:
    """"二十七" → "27", "十六点二四" → "16.24", "二〇二五" → "2025"."""
    whole, _, fraction = text.partition("点")
    if whole and all(ch in CN_DIGIT for ch in whole) and len(whole) > 1:
        digits = "".join(str(CN_DIGIT[ch]) for ch in whole)
    else:
        total, section = 0, 0
        for ch in whole:
            if ch in CN_DIGIT:
                section = CN_DIGIT[ch]
            else:
                unit = {"十": 10, "百": 100, "千": 1000}[ch]
                total += (section or 1) * unit
                section = 0
        digits = str(total + section)
    if fraction:
        digits += "." + "".join(str(CN_DIGIT[ch]) for ch in fraction)
    return digits


def chinese_numerals_to_digits(text: str) -> str:
    """Rewrite numbers written in Chinese when they measure something; leave names ("十大…行动") alone."""

    def replace(match: re.Match[str]) -> str:
        percent, number, unit = match.group(1), match.group(2), match.group(3)
        ordinal = match.start() > 0 and text[match.start() - 1] == "第"
        if FIVE_YEAR_PLANS.fullmatch(number) or not (percent or unit or "点" in number):
            return match.group()
        if number == "一" and not percent and not ordinal:  # "哪一年", "一户一表": a word, not a measure
            return match.group()
        value = chinese_number_value(number)
        return f"{value}%" if percent else value

    protected = FIVE_YEAR_PLANS.sub(lambda m: "\0" * len(m.group()), text)
    out, last = [], 0
    for match in CN_NUMBER.finditer(protected):
        out.append(text[last : match.start()])
        out.append(replace(_rematch(text, match)))
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def _rematch(text: str, match: re.Match[str]) -> re.Match[str]:
    again = CN_NUMBER.match(text, match.start())
    return again if again else match
