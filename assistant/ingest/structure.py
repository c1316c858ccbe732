"""Stage 3, structure: cut cleaned paragraphs into citable `Clause`s with their section paths.

The bulletin's shape: front matter (cover, 目录, 编辑委员会), a notice (通知) that issues a plan,
the plan (一、… → （一）… → 1. …), then monthly chronicles (2024年4月区政府大事记) of dated entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from assistant.ingest.clean import (
    CN_NUM,
    Paragraph,
    chinese_number_value,
    clean_document,
    is_heading_line,
    is_title_like,
)
from assistant.lang.agencies import ENDS_WITH_UNITS, UNIT_LINE_LABEL, UNIT_STATEMENT
from assistant.lang.periods import MONTH_DAY
from assistant.models import Clause, Document

CN = CN_NUM  # the outline numerals, as cleaning reads them
# "一、总体要求", "第一章 总体要求", and "、主要目标" whose numeral the extraction lost.
LEVEL1 = re.compile(rf"^(?:([{CN}]*)、|第([{CN}]+)章\s?)(.+)$")
LEVEL2 = re.compile(rf"^\(([{CN}]+)\)(.+)$")
LEVEL3 = re.compile(rf"^(?:(\d{{1,2}})[.．、](?!\d)|第([{CN}]+)条\s?)(.+)$")
CHRONICLE = re.compile(r"^(\d{4})年(\d{1,2})月.{0,12}大事记$")
EVENT_DATE = re.compile("^" + MONTH_DAY)
SAME_DAY = re.compile(r"^同日")
NOTICE_TITLE = re.compile(r"关于.+的(?:通知|决定|意见|批复|办法)$")
RESPONSIBILITY_ONLY = re.compile(rf"^(?:{UNIT_STATEMENT}|{UNIT_LINE_LABEL}.+)$")  # units on a line of their own
TOC_LINE = re.compile(r"(?:\.{3,}|…+)\s*\d+$|大事记\s*\d+$")


@dataclass
class _Open:
    """The clause being assembled from one or more paragraphs."""

    kind: str
    section: str
    code: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    date: str | None = None
    awaiting_body: bool = False  # its heading line stood alone; the next paragraph is its body


def structure_document(document: Document) -> list[Clause]:
    return _Parser(document).parse()


class _Parser:
    def __init__(self, document: Document):
        self.document = document
        self.doc_id = PurePath(document.name).stem
        self.clauses: list[Clause] = []
        self.open: _Open | None = None
        self.zone = "front"  # front → notice → plan → chronicle
        self.front_section = "封面"
        self.notice_title = ""
        self.level1 = self.level2 = ""
        self.codes = [0, 0]  # L1 and L2 ordinals
        self.paragraph_counter: dict[str, int] = {}
        self.month = ""
        self.last_date: str | None = None
        self.event_count = 0
        self.meta_count = 0
        self.parts = 1

    def parse(self) -> list[Clause]:
        paragraphs = clean_document(self.document.text)
        for i, paragraph in enumerate(paragraphs):
            following = paragraphs[i + 1].text if i + 1 < len(paragraphs) else ""
            self.feed(paragraph, following)
        self.close()
        return self.clauses

    # --- dispatch -------------------------------------------------------------------------
    def feed(self, paragraph: Paragraph, following: str) -> None:
        text = paragraph.text
        if paragraph.new_part:
            self.start_part()
        if CHRONICLE.match(text):
            self.start_chronicle(text)
        elif self.zone == "chronicle":
            self.chronicle_entry(paragraph)
        elif NOTICE_TITLE.search(text) and not TOC_LINE.search(text) and self.zone == "front":
            self.zone = "notice"
            self.notice_title = re.sub(r"\s+", "", text)
            self.meta(paragraph, self.notice_title)
        elif is_title_like(text) and LEVEL1.match(following) and not LEVEL1.match(text):
            self.close()
            self.meta(paragraph, "文件标题")  # the plan's own title line
            self.zone = "plan"
        elif self.zone in ("front", "notice") and not _starts_plan(text):
            self.front_matter(paragraph)
        else:
            self.zone = "plan"
            self.plan_paragraph(paragraph)

    def start_part(self) -> None:
        """Another excerpt (a digest, another page) begins: it has its own preamble and outline."""
        self.close()
        self.parts += 1
        self.zone, self.front_section, self.level1, self.level2 = "front", f"第{self.parts}部分", "", ""

    # --- front matter and notice -------------------------------------------------------------
    def front_matter(self, paragraph: Paragraph) -> None:
        compact = re.sub(r"\s+", "", paragraph.text)
        if self.zone == "front" and compact in ("目录", "编辑委员会"):
            self.front_section = compact
        section = self.notice_title if self.zone == "notice" else self.front_section
        self.meta(paragraph, section)

    def meta(self, paragraph: Paragraph, section: str) -> None:
        self.meta_count += 1
        self.emit(_Open("meta", section, f"m{self.meta_count:02d}", [paragraph]))

    # --- the plan -----------------------------------------------------------------------------
    def plan_paragraph(self, paragraph: Paragraph) -> None:
        text = paragraph.text
        if (m := LEVEL1.match(text)) and is_heading_line(text):
            self.close()
            self.codes = [self.codes[0] + 1, 0]
            self.level1, self.level2 = f"{m.group(1) or m.group(2) or ''}、{m.group(3)}", ""
        elif m := LEVEL2.match(text):
            self.close()
            self.codes[1] += 1
            title, has_body = _heading_title(m.group(2))
            self.level2 = f"（{m.group(1)}）{title}"
            if has_body or "。" in text:  # a numbered measure (政策保障) rather than a pure heading
                self.open = _Open("measure", self.section(), self.code(), [paragraph], awaiting_body=not has_body)
        elif m := LEVEL3.match(text):
            self.close()
            number = m.group(1) or str(chinese_ordinal(m.group(2)))
            title, has_body = _heading_title(m.group(3))
            section = f"{self.section()} > {number}. {title}"
            self.open = _Open("task", section, f"{self.code()}.{number}", [paragraph], awaiting_body=not has_body)
        elif RESPONSIBILITY_ONLY.match(text) and self.open is not None:
            self.open.paragraphs.append(paragraph)  # units printed on their own line after the task
            self.close()
        elif self.open is not None and (self.open.awaiting_body or self.task_continues()):
            self.open.paragraphs.append(paragraph)
            self.open.awaiting_body = False
        else:
            self.close()
            kind = "goal" if "主要目标" in self.section() else "paragraph"
            key = self.code()
            self.paragraph_counter[key] = self.paragraph_counter.get(key, 0) + 1
            self.open = _Open(kind, self.section(), f"{key}.p{self.paragraph_counter[key]}", [paragraph])

    def task_continues(self) -> bool:
        """A numbered task runs until its "（…负责）" line, even across paragraphs."""
        assert self.open is not None
        return self.open.kind == "task" and not ENDS_WITH_UNITS.search(self.open.paragraphs[-1].text)

    def section(self) -> str:
        return " > ".join(part for part in (self.level1, self.level2) if part)

    def code(self) -> str:
        return "s" + ".".join(str(c) for c in self.codes if c)

    # --- chronicles ------------------------------------------------------------------------
    def start_chronicle(self, header: str) -> None:
        self.close()
        self.zone = "chronicle"
        m = CHRONICLE.match(header)
        assert m is not None
        self.month = f"{m.group(1)}-{int(m.group(2)):02d}"
        self.chronicle_title = header
        self.event_count = 0
        self.last_date = None

    def chronicle_entry(self, paragraph: Paragraph) -> None:
        self.close()
        if m := EVENT_DATE.match(paragraph.text):
            self.last_date = f"{self.month[:4]}-{int(m.group(1)):02d}-{int(m.group(2)):02d}"
            date = self.last_date
        elif SAME_DAY.match(paragraph.text):
            date = self.last_date
        else:
            self.meta(paragraph, self.chronicle_title)
            return
        self.event_count += 1
        code = f"e{self.month}.{self.event_count:02d}"
        self.emit(_Open("event", self.chronicle_title, code, [paragraph], date=date))

    # --- output ------------------------------------------------------------------------------
    def close(self) -> None:
        if self.open is not None:
            self.emit(self.open)
            self.open = None

    def emit(self, clause: _Open) -> None:
        offsets: tuple[int, ...] = ()
        text = ""
        for paragraph in clause.paragraphs:
            text += paragraph.text
            offsets += paragraph.offsets
        if clause.kind == "measure":
            clause.kind = "task" if ENDS_WITH_UNITS.search(text) else "paragraph"
        self.clauses.append(
            Clause(
                id=f"{self.doc_id}:{clause.code}",
                doc=self.document.name,
                section=clause.section,
                kind=clause.kind,
                text=text,
                start=offsets[0],
                end=offsets[-1] + 1,
                date=clause.date,
                offsets=offsets,
            )
        )


def _starts_plan(text: str) -> bool:
    """A document without a cover or notice (a plan on its own, a fragment) starts at its first heading."""
    return bool((LEVEL1.match(text) or LEVEL2.match(text)) and is_heading_line(text))


def _heading_title(rest: str) -> tuple[str, bool]:
    """"优化调整煤炭消费结构。严格限制…" → ("优化调整煤炭消费结构", True)."""
    title, sep, body = rest.partition("。")
    return title.strip(), bool(sep and body.strip())


def chinese_ordinal(numeral: str) -> int:
    return int(chinese_number_value(numeral))
