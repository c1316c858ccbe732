"""What an office files: workbooks styled (widths, wrapping, header style, print setup, 说明 and 图表 sheets).

The answered questionnaire and the targets ledger share these helpers; only styling lives here,
the cells themselves come from questionnaire.py and ledger.py.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from assistant.office.safe_text import append_xlsx_row, set_xlsx_cell

HEADER_FILL = "DDEBF7"  # light blue: a header that prints legibly in grey scale too
ABSTAINED_FILL = "FCE4D6"  # light orange: 方案是否明确=否 stands out without hiding the text
NOTES_SHEET = "说明"
# Widths in Excel character units (a CJK character is about 2): long text wraps, short values do not.
ANSWER_WIDTHS = {"答案": 60, "出处章节": 28, "原文摘录": 60, "置信度": 9, "方案是否明确": 13}
ABSTAINED_COLUMN = "方案是否明确"
MAX_WIDTH = 60
LINE_HEIGHT = 15  # points per wrapped line of 11-point text


@dataclass(frozen=True)
class NoteCounts:
    """How many rows the 说明 sheet reports in each state."""

    answered: int
    abstained: int
    errors: int
    skipped: int = 0  # rows that hold no question (totals, instructions, headers, blanks)


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


def style_answer_columns(worksheet, header_row: int, columns: Sequence[int], last_row: int) -> None:
    """The five added columns: widths, wrapped bordered cells, a styled header, abstentions filled."""
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
    fit_row_heights(worksheet, header_row + 1, last_row, columns)
    set_print_layout(worksheet, header_row)


def fit_row_heights(worksheet, first_row: int, last_row: int, columns: Sequence[int]) -> None:
    """Rows tall enough for their wrapped answers: LibreOffice prints an xlsx row at its stored height,
    so without this a long answer is cut at its first line on paper."""
    from openpyxl.utils import get_column_letter

    for row in range(first_row, last_row + 1):
        lines = 1
        for column in columns:
            width = worksheet.column_dimensions[get_column_letter(column)].width or 10
            text = str(worksheet.cell(row=row, column=column).value or "")
            lines = max(lines, sum(-(-max(text_width(part), 1) // int(width)) for part in text.split("\n")))
        current = worksheet.row_dimensions[row].height or 0
        worksheet.row_dimensions[row].height = max(current, LINE_HEIGHT * lines)


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
