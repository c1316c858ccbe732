"""What an office files: workbooks styled (widths, wrapping, header style, print setup, 说明 and 图表 sheets).

The answered questionnaire and the targets ledger share these helpers; only styling lives here,
the cells themselves come from questionnaire.py and ledger.py.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from assistant.errors import InputFileError
from assistant.office.safe_text import append_xlsx_row, set_xlsx_cell

log = logging.getLogger(__name__)

HEADER_FILL = "DDEBF7"  # light blue: a header that prints legibly in grey scale too
ABSTAINED_FILL = "FCE4D6"  # light orange: 方案是否明确=否 stands out without hiding the text
NOTES_SHEET = "说明"
# Widths in Excel character units (a CJK character is about 2): long text wraps, short values do not.
ANSWER_WIDTHS = {"答案": 60, "出处章节": 28, "原文摘录": 60, "置信度": 9, "方案是否明确": 13}
ABSTAINED_COLUMN = "方案是否明确"
MAX_WIDTH = 60
LINE_HEIGHT = 15  # points per wrapped line of 11-point text
# Printing: the answered table at BODY_POINTS on A4 landscape without shrinking. The printable width with
# narrow margins (0.25 in) is about 805 pt; an Excel width unit is about 5.6 pt (7 px of the default font
# plus padding), so the columns together stay within PAGE_WIDTH_UNITS and fit-to-width never scales down.
BODY_POINTS = 10
BODY_LINE_HEIGHT = 14  # points per wrapped line of 10-point text (CJK fonts are tall)
PAGE_WIDTH_UNITS = 135
NARROW_WIDTHS = {"置信度": 7, "方案是否明确": 8, "出处章节": 16}
NARROW_MAX = 12  # an original short column (序号, 单位) is kept at most this wide
WIDE_SHARES = {"question": 1.0, "answer": 1.3, "原文摘录": 1.2}


@dataclass(frozen=True)
class NoteCounts:
    """How many rows the 说明 sheet reports in each state."""

    answered: int
    abstained: int
    errors: int
    skipped: int = 0  # rows that hold no question (totals, instructions, headers, blanks)
    skipped_rows: tuple[str, ...] = ()  # "第 5 行：分节标题 / section header", one per skipped row


def _thin_border():
    from openpyxl.styles import Border, Side

    side = Side(style="thin", color="808080")
    return Border(left=side, right=side, top=side, bottom=side)


def style_header(cell) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    cell.font = Font(bold=True)
    cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
    cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    cell.border = _thin_border()


def style_body(cell, wrap: bool = True) -> None:
    from openpyxl.styles import Alignment

    cell.alignment = Alignment(wrap_text=wrap, vertical="top")
    cell.border = _thin_border()


def set_print_layout(worksheet, header_row: int) -> None:
    """Landscape, one page wide, header repeated on every printed page, header frozen on screen."""
    worksheet.freeze_panes = worksheet.cell(row=header_row + 1, column=1)
    worksheet.print_title_rows = f"{header_row}:{header_row}"
    worksheet.page_setup.orientation = "landscape"
    worksheet.page_setup.paperSize = worksheet.PAPERSIZE_A4
    worksheet.page_setup.fitToWidth = 1
    worksheet.page_setup.fitToHeight = 0
    worksheet.sheet_properties.pageSetUpPr.fitToPage = True


def style_answer_columns(
    worksheet, header_row: int, columns: Sequence[int], last_row: int, question_column: int | None = None
) -> None:
    """The five added columns: wrapped bordered cells, a styled header, abstentions filled; with the
    question column, the whole table sized to print on A4 landscape at a readable size."""
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter

    abstained = PatternFill("solid", fgColor=ABSTAINED_FILL)
    for column in columns:
        name = str(worksheet.cell(row=header_row, column=column).value or "")
        worksheet.column_dimensions[get_column_letter(column)].width = ANSWER_WIDTHS.get(name, 20)
        style_header(worksheet.cell(row=header_row, column=column))
        for row in range(header_row + 1, last_row + 1):
            cell = worksheet.cell(row=row, column=column)
            style_body(cell)
            if name == ABSTAINED_COLUMN and cell.value == "否":
                cell.fill = abstained
    if question_column is None:
        fit_row_heights(worksheet, header_row + 1, last_row, columns)
        set_print_layout(worksheet, header_row)
        return
    fit_table_to_page(worksheet, header_row, last_row, question_column, columns[0])


def fit_table_to_page(worksheet, header_row: int, last_row: int, question_column: int, answer_column: int) -> None:
    """Widths that share one A4 landscape page width, text wrapped at BODY_POINTS, rows as tall as their text."""
    from openpyxl.styles import Alignment, Font

    table_columns = range(1, worksheet.max_column + 1)
    for row in worksheet.iter_rows(min_row=header_row, max_row=last_row, max_col=worksheet.max_column):
        for cell in row:
            old = cell.font
            cell.font = Font(name=old.name, bold=old.bold, italic=old.italic, color=old.color, size=BODY_POINTS)
            if cell.row > header_row:
                cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal=cell.alignment.horizontal)
    widths = _page_widths(worksheet, header_row, last_row, question_column, answer_column)
    for column, width in widths.items():
        worksheet.column_dimensions[_letter(column)].width = width
    fit_row_heights(worksheet, header_row, last_row, table_columns, BODY_LINE_HEIGHT)
    set_print_layout(worksheet, header_row)
    worksheet.page_margins.left = worksheet.page_margins.right = 0.25
    worksheet.page_margins.top = worksheet.page_margins.bottom = 0.4


def _page_widths(worksheet, header_row: int, last_row: int, question_column: int, answer_column: int) -> dict[int, float]:
    """Narrow columns as wide as their longest value (capped); the wide ones share what is left of the page."""
    wide = {question_column: WIDE_SHARES["question"], answer_column: WIDE_SHARES["answer"]}
    widths: dict[int, float] = {}
    for column in range(1, worksheet.max_column + 1):
        name = str(worksheet.cell(row=header_row, column=column).value or "")
        if name in WIDE_SHARES:
            wide[column] = WIDE_SHARES[name]
        if column in wide:
            continue
        values = [worksheet.cell(row=r, column=column).value for r in range(header_row + 1, last_row + 1)]
        longest = max((text_width(str(v)) for v in values if v not in (None, "")), default=2)
        widths[column] = NARROW_WIDTHS.get(name, max(4, min(NARROW_MAX, longest + 1)))
    left = max(PAGE_WIDTH_UNITS - sum(widths.values()), 12 * len(wide))
    total_share = sum(wide.values())
    widths.update({column: round(left * share / total_share, 1) for column, share in wide.items()})
    return widths


def fit_row_heights(
    worksheet, first_row: int, last_row: int, columns: Sequence[int], line_height: float = LINE_HEIGHT
) -> None:
    """Rows tall enough for their wrapped answers: LibreOffice prints an xlsx row at its stored height,
    so without this a long answer is cut at its first line on paper."""
    from openpyxl.utils import get_column_letter

    merged = {(r, c) for cells in worksheet.merged_cells.ranges for r, c in cells.cells}  # a merged footer spans widths
    for row in range(first_row, last_row + 1):
        lines = 1
        for column in columns:
            if (row, column) in merged:
                continue
            width = worksheet.column_dimensions[get_column_letter(column)].width or 10
            text = str(worksheet.cell(row=row, column=column).value or "")
            lines = max(lines, sum(-(-max(text_width(part), 1) // int(width)) for part in text.split("\n")))
        current = worksheet.row_dimensions[row].height or 0
        worksheet.row_dimensions[row].height = max(current, line_height * lines)


def text_width(text: str) -> int:
    """Columns a text takes, in Excel character units and on a terminal alike: a CJK or full-width character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def add_notes_sheet(
    workbook, source_name: str, sources: Sequence[str], counts: NoteCounts, notes: Sequence[str] = ()
) -> None:
    """A 说明 sheet (another name if the user's workbook has one): what was answered, from what, when."""
    title = _free_title(workbook, NOTES_SHEET)
    sheet = workbook.create_sheet(title)
    rows = [
        ("项目", "内容"),
        ("问卷文件", source_name),
        ("生成日期", date.today().isoformat()),
        ("已回答", counts.answered),
        ("其中方案中未明确", counts.abstained),
        ("跳过（非问题行）", counts.skipped),
        *(("跳过的行" if i == 0 else "", row) for i, row in enumerate(counts.skipped_rows)),
        ("出错", counts.errors),
        *(("依据方案" if i == 0 else "", s) for i, s in enumerate(sources or ["（未知）"])),
        ("说明", "“方案是否明确”为“否”的行（浅橙色）表示方案原文中没有明确答案，请人工核对。"),
        *(("", note) for note in notes),
    ]
    for row in rows:
        append_xlsx_row(sheet, row)
    for cell in sheet[1]:
        style_header(cell)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            style_body(cell)
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 80
    set_print_layout(sheet, 1)


def _free_title(workbook, wanted: str) -> str:
    """The user's own 说明 sheet survives untouched: ours becomes 问答说明, 问答说明2…"""
    if wanted not in workbook.sheetnames:
        return wanted
    candidate, n = f"问答{wanted}", 2
    while candidate in workbook.sheetnames:
        candidate, n = f"问答{wanted}{n}", n + 1
    return candidate


def fit_widths(worksheet, header_row: int, wide: dict[str, int] | None = None) -> None:
    """Each column as wide as its longest value (CJK counted double), capped; named columns fixed."""
    from openpyxl.utils import get_column_letter

    wide = wide or {}
    for column_cells in worksheet.iter_cols(min_row=header_row):
        name = str(column_cells[0].value or "")
        longest = max((text_width(str(c.value)) for c in column_cells if c.value is not None), default=4)
        width = wide.get(name, min(MAX_WIDTH, longest + 2))
        worksheet.column_dimensions[get_column_letter(column_cells[0].column)].width = max(width, 6)


CHART_SHEET = "图表"
ROW_CM = 0.53  # a default-height row, for stacking charts without overlap


@dataclass(frozen=True)
class CountTable:
    """One bar chart's data: a label column (行动, 年份) and how many targets each label has."""

    label: str
    counts: tuple[tuple[str, int], ...]
    title: str
    horizontal: bool = False  # long labels (action headings) read better as horizontal bars


def add_chart_sheet(workbook, tables: Sequence[CountTable], wanted: str = CHART_SHEET) -> None:
    """A sheet with the count tables side by side and, to their right, one bar chart per table, stacked."""
    sheet = workbook.create_sheet(_free_title(workbook, wanted))
    anchor_row = 1
    for n, table in enumerate(tables):
        column = 1 + 3 * n
        _write_counts(sheet, table, column)
        chart = _bar_chart(sheet, table, column)
        sheet.add_chart(chart, f"{_letter(1 + 3 * len(tables))}{anchor_row}")
        anchor_row += math.ceil(chart.height / ROW_CM) + 2
    set_print_layout(sheet, 1)


def _write_counts(sheet, table: CountTable, column: int) -> None:
    from openpyxl.utils import get_column_letter

    for offset, header in enumerate((table.label, "目标数")):
        style_header(sheet.cell(row=1, column=column + offset, value=header))
    for row, (label, count) in enumerate(table.counts, 2):
        set_xlsx_cell(sheet.cell(row=row, column=column), label)
        style_body(sheet.cell(row=row, column=column))
        style_body(sheet.cell(row=row, column=column + 1, value=count), wrap=False)
    longest = max((text_width(label) for label, _ in table.counts), default=4)
    sheet.column_dimensions[get_column_letter(column)].width = min(MAX_WIDTH, max(8, longest + 2))
    sheet.column_dimensions[get_column_letter(column + 1)].width = 8


def _bar_chart(sheet, table: CountTable, column: int):
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.type = "bar" if table.horizontal else "col"
    chart.title = table.title
    chart.legend = None
    chart.y_axis.title = "目标数"
    chart.x_axis.title = table.label
    chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 otherwise leaves Excel to hide the axes
    last = len(table.counts) + 1
    chart.add_data(Reference(sheet, min_col=column + 1, min_row=1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=column, min_row=2, max_row=last))
    chart.x_axis.tickLblSkip = 1  # every label, not every other one
    if table.horizontal:
        chart.x_axis.scaling.orientation = "maxMin"  # the first action on top, as in the plan
    chart.width, chart.height = 24, max(7.5, 0.8 * len(table.counts)) if table.horizontal else 7.5
    return chart


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(column)


def copy_xls_layout(input_path: Path, sheet_name: str | None, answers_from: int, header: int, worksheet) -> None:
    """What of an .xls's look survives the move to .xlsx: merged cells (a title across the table) and column
    widths, left of the answer columns."""
    from openpyxl.utils import get_column_letter

    from assistant.office.sheets import bounded_merges, open_xls, pick_xls_sheet

    try:
        source = pick_xls_sheet(open_xls(input_path, formatting=True), sheet_name, input_path)
        merges = bounded_merges(input_path, source.merged_cells)
    except InputFileError as exc:  # formatting that xlrd cannot parse, or too many merges: the values are in place
        log.warning("%s: column widths and merged cells of the .xls were not copied (%s)", input_path.name, exc)
        return
    for top, bottom, left, right in merges:
        if right <= answers_from or bottom <= header:  # never over an answer cell
            worksheet.merge_cells(start_row=top + 1, end_row=bottom, start_column=left + 1, end_column=right)
    for column, info in source.colinfo_map.items():
        if column < answers_from:
            worksheet.column_dimensions[get_column_letter(column + 1)].width = round(info.width / 256, 1)
