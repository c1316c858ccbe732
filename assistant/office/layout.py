"""A questionnaire's layout read as a person reads it: which rows hold a question, which column takes the answer.

Audit offices send questionnaires with title and 说明 rows above the header, section rows ("一、能源结构")
between the questions, 小计/合计 rows with their numbers, instruction lines, and a footer to sign and date
("填报单位（盖章）：… 填报日期："). None of those is a question: each is recognised and left untouched.
Many also carry their own answer column (被检查单位答复, 填报内容, 落实情况…): the answer belongs there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.lang.asking import INTERROGATIVE, LEADING_LABEL

TOTALS = re.compile(r"(?:合计|总计|小计|共计|总数)\s*[:：]?")
# A line to sign or date: a role, an optional （盖章）/（签字）, then its colon.
FOOTER = re.compile(
    r"^(?:填报|填表|报送|被检查|被调查)?(?:单位|单位负责人|负责人|审核人|填报人|填表人|联系人|联系电话|经办人|日期)"
    r"\s*(?:[（(][^）)]{1,6}[)）])?\s*[:：]"
    r"|^(?:填报|填表|报送)日期\s*[:：]"
)
INSTRUCTIONS = re.compile(
    r"^(?:填表说明|填报说明|说明|备注|注意事项|注)\s*[0-9一二三四五六七八九十]?\s*[:：]"
    r"|^请(?:于|在).{0,30}(?:前|之前)(?:报送|报|反馈|提交|填报)"
)
SECTION_MAX_CHARS = 20
# A section's label standing alone in the 序号 column: 一 / 二、 / （三）.
BARE_LABEL = re.compile(r"[（(]?[一二三四五六七八九十]{1,3}[)）]?[、.．]?")
# Header names of a questionnaire's own answer column (whitespace ignored).
OWN_ANSWER_HEADERS = (
    "被检查单位答复", "被调查单位答复", "答复", "回复", "答复内容", "回复内容", "答复意见", "填报内容", "填报情况",
    "落实情况", "完成情况", "进展情况", "执行情况", "自查情况", "整改情况", "情况说明", "回答", "单位答复",
)


@dataclass(frozen=True)
class RowKind:
    """Whether a questionnaire row holds a question, and if not, why it is skipped."""

    is_question: bool
    reason: str = ""


def classify_row(cell: object, row: Sequence[object] = (), question_col: int = -1) -> RowKind:
    """The question cell read with the rest of its row: a 小计 in the 序号 column makes its number no question."""
    text = "" if cell is None else str(cell).strip()
    others = [str(v).strip() for i, v in enumerate(row) if i != question_col and v is not None and str(v).strip()]
    if any(TOTALS.fullmatch(v) for v in others):
        return RowKind(False, "合计行 / totals row")
    if any(FOOTER.match(v) for v in others) and not _asks(text):
        return RowKind(False, "签章日期行 / signature footer")
    if not text:
        return RowKind(False, "空行 / blank")
    if any(BARE_LABEL.fullmatch(v) for v in others) and len(text) <= SECTION_MAX_CHARS and not _asks(text):
        return RowKind(False, "分节标题 / section header")  # "一 | 能源结构": the label in the 序号 column
    return classify_cell(text)


def classify_cell(text: str) -> RowKind:
    """One question cell on its own: totals, formulas, footers, instructions and section headers are no questions."""
    if text.startswith("="):
        return RowKind(False, "公式 / formula")
    if re.fullmatch(r"[0-9.,，%％\s-]+", text):
        return RowKind(False, "数字 / a number")
    if re.match(rf"{TOTALS.pattern}.{{0,20}}$", text) and not INTERROGATIVE.search(text):
        return RowKind(False, "合计行 / totals row")
    if FOOTER.match(text):
        return RowKind(False, "签章日期行 / signature footer")
    if INSTRUCTIONS.match(text):
        return RowKind(False, "说明 / instructions")
    if len(text) <= SECTION_MAX_CHARS and not _asks(text) and LEADING_LABEL.match(text):
        return RowKind(False, "分节标题 / section header")
    return RowKind(True)


def _asks(text: str) -> bool:
    return bool(re.search(r"[?？]", text) or INTERROGATIVE.search(text))


def own_answer_column(header: Sequence[object], question_col: int, body: Sequence[Sequence[object]]) -> int | None:
    """The questionnaire's own answer column, when it has one and it is still empty in the question rows
    (a filled one is the user's; a footer's 填报日期 may stand in it)."""
    body = [row for row in body if classify_row(row[question_col] if question_col < len(row) else None, row, question_col).is_question]
    for index, value in enumerate(header):
        name = re.sub(r"\s", "", "" if value is None else str(value))
        if index != question_col and name in OWN_ANSWER_HEADERS:
            filled = any(index < len(row) and row[index] not in (None, "") for row in body)
            return None if filled else index
    return None
