"""The data passed between pipeline stages: small frozen dataclasses, plain and printable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

History = list[tuple[str, str]]  # earlier turns, oldest first: (question, answer)


@dataclass(frozen=True)
class Document:
    """A source file as loaded: `text` is exactly what spans and quotes refer to."""

    name: str  # file name inside the corpus, e.g. "hecheng-bulletin-2024-02.txt"
    path: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Clause:
    """A citable unit of a document: a task, a goal paragraph, a chronicle entry, a front-matter line."""

    id: str
    doc: str
    section: str  # human-readable path, e.g. "三、… > （二）…行动 > 4. …"
    kind: str  # goal / task / paragraph / event / meta / heading
    text: str  # cleaned and normalised for matching
    start: int  # span in the ORIGINAL document text
    end: int
    date: str | None = None  # for chronicle events: "2024-04-12" (or a range start)
    # Offsets of each `text` character in the original (same length as text), for sub-spans.
    offsets: tuple[int, ...] = field(default=(), repr=False, compare=False)

    @property
    def action(self) -> str:
        """The second-level heading, e.g. "（二）节能降碳增效行动" (empty outside 重点任务)."""
        parts = self.section.split(" > ")
        return parts[1] if len(parts) > 1 and parts[1].startswith("（") else ""

    @property
    def title(self) -> str:
        return self.section.split(" > ")[-1]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) range of `text` to the original document."""
        if not self.offsets or start >= end:
            return self.start, self.end
        return self.offsets[start], self.offsets[end - 1] + 1

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("offsets")
        return out


@dataclass(frozen=True)
class Target:
    """One numeric target of the plan: what, how much, by when, who."""

    clause_id: str
    indicator: str
    comparator: str  # the verb or relation: 达到 / 提高到 / 不低于 / 下降 / 稳定在 / 完成 …
    value: float
    value_text: str  # the figure as written, normalised: "16.24"
    unit: str  # %, 万千瓦, 个 … ("" when the figure has no unit, as PUE 1.3)
    qualifier: str  # 以上 / 左右 / 力争 … joined by "、"; "" when none
    year: int | None  # the year it is due
    period: str | None  # "2021-2025" for “十四五”期间
    baseline: str | None  # "较2020年"
    sentence: str  # the normalised sentence that states it
    start: int  # span of that sentence in the original document
    end: int
    segment: str = ""  # the comma-separated part of the sentence with the figure ("…比重提高到27%以上")
    direction: str = ""  # 下降 / 提高 / 增长 / 控制在 / 不低于 …; "力争达到15%" after "下降14.5%" inherits 下降

    @property
    def display(self) -> str:
        """The figure with its direction and qualifiers as the plan states it: "较2020年下降14.5%"."""
        return f"{self.baseline or ''}{self.figure(self.verb)}"

    @property
    def verb(self) -> str:
        """The comparator as told: a count's verb is left out, a neutral 达到 gives way to an inherited direction."""
        if self.direction and self.comparator in NEUTRAL_COMPARATORS:
            return self.direction
        return "" if self.comparator in COUNTING_COMPARATORS else self.comparator

    @property
    def direction_words(self) -> tuple[str, ...]:
        """Every word that says which way the target points, its direction verb and its qualifiers."""
        return tuple(dict.fromkeys(w for w in (self.direction, *self.qualifier.split("、")) if w))

    def figure(self, comparator: str) -> str:
        """Qualifiers in the plan's order around the value: "力争" + comparator + "27%" + "以上"."""
        qualifiers = self.qualifier.split("、")
        prefix = "".join(q for q in qualifiers if q in PREFIX_QUALIFIERS)
        suffix = "".join(q for q in qualifiers if q in SUFFIX_QUALIFIERS)
        return f"{prefix}{comparator}{self.value_text}{self.unit}{suffix}"


PREFIX_QUALIFIERS = ("力争", "确保", "基本", "原则上")
SUFFIX_QUALIFIERS = ("及以上", "及以下", "以上", "左右", "以内", "以下")
BOUND_COMPARATORS = ("不低于", "不高于", "不少于", "不超过", "不小于")
NEUTRAL_COMPARATORS = ("", "达到", "达")
COUNTING_COMPARATORS = ("完成", "建成", "新增", "创建", "新建", "打造", "引进", "建设", "改造")
# The words that say which way a target points; a figure told without its word changes its meaning.
DIRECTION_WORDS = ("下降", "降低", "提高", "增长", "控制在", "不低于", "不高于", "以上", "以内", "左右", "力争")
# A comparator's direction: "提高到" → 提高, "降至" → 降低 (first match wins).
DIRECTION_OF = (
    ("下降", "下降"), ("降至", "降低"), ("降低", "降低"), ("提高", "提高"), ("提升", "提高"), ("增长", "增长"),
    ("控制在", "控制在"), ("不低于", "不低于"), ("不少于", "不低于"), ("不小于", "不低于"), ("不高于", "不高于"),
    ("不超过", "不高于"), ("稳定在", "稳定在"), ("保持在", "保持在"),
)


def direction_of(comparator: str) -> str:
    """The direction a comparator states ("" for 达到 or a count's verb)."""
    return next((direction for word, direction in DIRECTION_OF if comparator.startswith(word)), "")


@dataclass(frozen=True)
class Responsibility:
    """The units a task names ("（…按职责分工负责）", "（牵头单位：…；配合单位：…）" …), leads first."""

    clause_id: str
    units: tuple[str, ...]  # canonical names
    original: tuple[str, ...]  # as spelled in the text
    start: int
    end: int
    lead_count: int = 1  # the first `lead_count` units lead, the rest support; 0 when the plan names no lead

    @property
    def lead(self) -> str:
        return self.units[0]

    @property
    def leads(self) -> tuple[str, ...]:
        return self.units[: self.lead_count]

    @property
    def supporting(self) -> tuple[str, ...]:
        return self.units[self.lead_count :]


@dataclass(frozen=True)
class MetaFact:
    """A front-matter field: 文号, 印发日期, 期号, 总编辑 …"""

    field: str
    value: str
    clause_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Citation:
    doc: str
    clause_id: str
    section: str
    quote: str  # verbatim slice of the original file
    start: int
    end: int
    plan: str = ""  # the title of the plan cited ("某市碳达峰实施方案"), shown as "plan › section"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    intent: str
    confidence: float
    abstained: bool
    citations: tuple[Citation, ...] = ()

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
        }


@dataclass(frozen=True)
class LedgerRow:
    """One numeric target in the targets ledger (目标任务台账); column headers are added when rendering."""

    action: str  # the action heading it falls under, e.g. "（二）节能降碳增效行动"
    task: str  # the task heading ("" for a goal paragraph)
    indicator: str
    value: str  # the figure as written, "16.24"
    unit: str
    qualifier: str
    statement: str  # the figure with its baseline, direction and qualifiers as the plan states it, "较2020年下降14.5%"
    year: int | None
    baseline: str
    lead_unit: str
    partner_units: tuple[str, ...]
    clause_id: str
    quote: str  # verbatim sentence of the original file
    plan: str = ""  # the title of the plan that sets it
    direction: str = ""  # 下降 / 提高 / 不低于 … and the qualifiers 以上 / 左右 / 力争, joined by "、"

    @property
    def units(self) -> tuple[str, ...]:
        return (self.lead_unit, *self.partner_units) if self.lead_unit else self.partner_units

    def to_dict(self) -> dict:
        out = asdict(self)
        out["partner_units"] = list(self.partner_units)
        return out


@dataclass(frozen=True)
class LedgerColumn:
    """One column of the ledger: the `LedgerRow` field, the header offices read, and what it holds."""

    field: str
    header: str
    about: str = ""  # the API's description of the field; "" when the header says it all


# The ledger's columns, once, in the order every rendering shows them (csv readers index them):
# the terminal and page tables, csv, xlsx, the report and the API schema all take theirs from here.
LEDGER_COLUMNS: tuple[LedgerColumn, ...] = (
    LedgerColumn("action", "行动", "the action heading it falls under"),
    LedgerColumn("task", "任务", "the task heading, empty for a goal paragraph"),
    LedgerColumn("indicator", "指标"),
    LedgerColumn("value", "目标值", 'the figure as written, e.g. "16.24"'),
    LedgerColumn("unit", "单位"),
    LedgerColumn("qualifier", "限定词"),
    LedgerColumn("direction", "方向", "下降 / 提高 / 不低于 … and 以上 / 左右 / 力争, joined by 、"),
    LedgerColumn("statement", "表述", "the figure with its baseline, direction and qualifiers as the plan states it"),
    LedgerColumn("year", "年份"),
    LedgerColumn("baseline", "基准"),
    LedgerColumn("lead_unit", "牵头单位"),
    LedgerColumn("partner_units", "配合单位"),
    LedgerColumn("clause_id", "条款编号"),
    LedgerColumn("quote", "原文", "verbatim sentence of the original file"),
    LedgerColumn("plan", "方案", "title of the plan that sets it"),
)
LEDGER_HEADERS = {column.field: column.header for column in LEDGER_COLUMNS}


class Answerer(Protocol):
    """Something that answers: the Assistant, an auditing wrapper, a baseline, a test double. What the entry
    points ask through is the fuller KnowledgeAnswerer (assistant/facts/knowledge.py)."""

    def ask(self, question: str, history: History | None = None) -> Answer: ...


@dataclass(frozen=True)
class Chunk:
    """What retrieval ranks: a clause, or a sentence-aligned piece of a long one."""

    id: str
    clause_id: str
    doc: str
    section: str
    kind: str
    text: str  # normalised clause text of this piece
    start: int  # span in the original document
    end: int

    def passage(self) -> str:
        """The text embedded and matched: the section path gives the piece its context."""
        return f"{self.section}：{self.text}" if self.section else self.text


@dataclass(frozen=True)
class Hit:
    """One ranked chunk, with the ranks each retriever gave it (for evaluation and debugging)."""

    chunk: Chunk
    score: float
    bm25_rank: int | None  # 1-based, None when the list did not rank it
    dense_rank: int | None
    exact: bool = False  # the chunk contains every figure and quoted phrase the query states


@dataclass(frozen=True)
class PlanIdentity:
    """Which plan a document is: read from its own text, the file name only as a fallback."""

    doc: str  # file name
    title: str  # "某市某区碳达峰实施方案"
    issuer: str  # "某区人民政府" ("" when the text does not say)
    region: str  # "某市某区", "某省", "全国"; "" when the signals are absent or disagree (unknown, never 全国)
    level: str  # 国家 / 省 / 市州 / 县市区; "" when unknown
    doc_number: str  # 文号, e.g. "晋政发〔2022〕29号"
    date: str  # "2023-01-05"
    period: str  # "2021-2025" for a 十四五 plan, "" when none
    title_from_file_name: bool = False
    sources: tuple[tuple[str, str], ...] = ()  # (field, where it was read: 标题 / 发文机关 / 文号 / 正文 / 文件名…)

    def to_dict(self) -> dict:
        return asdict(self)
