"""What an office prints and files: workbooks (widths, wrapping, header style, print setup, charts) and the ledger report.

The answered questionnaire and the targets ledger share these helpers; only styling lives here,
the cells themselves come from batch.py and tables.py.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import ConversionError, SettingsError
from assistant.models import LedgerRow

if TYPE_CHECKING:
    from assistant.facts.knowledge import Knowledge

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
    """Excel character units: a CJK or full-width character takes two."""
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
        sheet.append(list(row))
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
        longest = max((_text_width(str(c.value)) for c in column_cells if c.value is not None), default=4)
        width = wide.get(name, min(MAX_WIDTH, longest + 2))
        worksheet.column_dimensions[get_column_letter(column_cells[0].column)].width = max(width, 6)


def _text_width(text: str) -> int:
    """Columns a text takes: a CJK character counts two (tables.display_width; office sits below tables)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


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
        style_body(sheet.cell(row=row, column=column, value=label))
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


# ---------------------------------------------------------------- the ledger as a report (DOCX, PDF)

REPORT_TITLE = "目标任务台账报告"
BODY_FONT, HEADING_FONT, LATIN_FONT = "宋体", "黑体", "Times New Roman"  # LibreOffice maps them to Noto CJK
REPORT_COLUMNS = (  # header, width in cm: 25.7 cm of landscape A4 between 2 cm margins
    ("序号", 1.3), ("指标与目标", 6.1), ("完成时限", 2.6), ("牵头单位", 3.2), ("配合单位", 4.2), ("出处", 8.3),
)
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TIMEOUT_SECONDS = 180


@dataclass(frozen=True)
class ReportTarget:
    """One ledger row with what the report adds: where the plan states it and by when."""

    row: LedgerRow
    section: str  # the clause's section path, "三、… > （二）…行动 > 4. …"
    deadline: str  # the plan's own time phrase ("到2025年", "2025年底前"), else the due year, else 未注明


@dataclass(frozen=True)
class ReportPart:
    """The targets under one outline section of a plan: the plan's own headings, top level first."""

    headings: tuple[str, ...]
    targets: tuple[ReportTarget, ...]


@dataclass(frozen=True)
class ReportPlan:
    title: str
    about: str  # issuer, 文号, date as the plan states them
    parts: tuple[ReportPart, ...]


def report_plans(knowledge: Knowledge, rows: Sequence[LedgerRow]) -> tuple[ReportPlan, ...]:
    """Ledger rows grouped by plan, then by the outline section (down to the action) that holds them."""
    by_doc: dict[str, dict[tuple[str, ...], list[ReportTarget]]] = {}
    for row in rows:
        clause = knowledge.clause(row.clause_id)
        parts = clause.section.split(" > ")
        headings = tuple(parts[: 2 if clause.action else 1])
        target = ReportTarget(row, clause.section, _deadline(knowledge, row))
        by_doc.setdefault(clause.doc, {}).setdefault(headings, []).append(target)
    return tuple(
        ReportPlan(_plan_title(knowledge, doc), _plan_about(knowledge, doc),
                   tuple(ReportPart(h, tuple(t)) for h, t in parts.items()))
        for doc, parts in by_doc.items()
    )


def _plan_title(knowledge: Knowledge, doc: str) -> str:
    from assistant.facts.knowledge import plan_title

    return plan_title(knowledge, doc)


def _plan_about(knowledge: Knowledge, doc: str) -> str:
    identity = knowledge.identities.get(doc)
    if identity is None:
        return doc
    return "　".join(part for part in (identity.issuer, identity.doc_number, identity.date) if part)


def _deadline(knowledge: Knowledge, row: LedgerRow) -> str:
    """The clause's own time phrase for the target's year ("到2025年"); a yearless limit ("每年3月底前"); or the year."""
    phrases = [d for d in knowledge.deadlines if d.clause_id == row.clause_id and d.kind != "period"]
    for deadline in phrases:
        if row.year is not None and deadline.year == row.year:
            return deadline.phrase
    yearless = [d.phrase for d in phrases if d.year is None]
    if yearless:
        return yearless[0]
    return f"{row.year}年" if row.year else "未注明"


def ledger_report(knowledge: Knowledge, rows: Sequence[LedgerRow], fmt: str = "docx") -> bytes:
    """The ledger as a document a leader reads: per plan and per action, each target with its units,
    deadline and citation. `fmt` "pdf" converts the DOCX with LibreOffice."""
    data = report_docx(report_plans(knowledge, rows))
    if fmt == "pdf":
        return docx_to_pdf(data)
    if fmt != "docx":
        raise SettingsError(f"不支持的报告格式 / unknown report format {fmt!r}: use docx or pdf")
    return data


def report_docx(plans: Sequence[ReportPlan], today: date | None = None) -> bytes:
    import docx

    document = docx.Document()
    _report_page_and_fonts(document)
    _report_front(document, plans, today or date.today())
    for number, plan in enumerate(plans):
        if number:
            document.add_page_break()  # each plan starts on its own page: it can be handed out alone
        _report_plan(document, plan)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _report_page_and_fonts(document) -> None:
    """Landscape A4 (the tables are wide); 宋体 body and 黑体 headings, black, set for East Asian text too."""
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt, RGBColor

    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    _set_style_font(document.styles["Normal"], BODY_FONT, Pt(10.5))
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):
        style = document.styles[name]
        _set_style_font(style, HEADING_FONT, None)
        style.font.color.rgb = RGBColor(0, 0, 0)


def _set_style_font(style, east_asian: str, size) -> None:
    """python-docx sets only the Latin font; the East Asian one is an attribute of w:rFonts.

    The template's theme fonts (w:asciiTheme, w:eastAsiaTheme…) would override both, so they go.
    """
    from docx.oxml.ns import qn

    style.font.name = LATIN_FONT
    if size is not None:
        style.font.size = size
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    fonts.set(qn("w:eastAsia"), east_asian)


def _report_front(document, plans: Sequence[ReportPlan], today: date) -> None:
    count = sum(len(part.targets) for plan in plans for part in plan.parts)
    document.add_heading(REPORT_TITLE, level=0)
    document.add_paragraph(f"生成日期：{today.isoformat()}　　目标共 {count} 项　　方案 {len(plans)} 个")
    document.add_paragraph("涵盖方案：")
    for plan in plans:
        document.add_paragraph(f"{plan.title}（{plan.about}）" if plan.about else plan.title, style="List Bullet")
    if not plans:
        document.add_paragraph("（没有符合条件的目标 / no targets match）")
    document.add_paragraph(
        "说明：每项目标按方案原文列出，“出处”为方案中的章节与原句；“完成时限”取原句中的时间表述。"
    )


def _report_plan(document, plan: ReportPlan) -> None:
    document.add_heading(plan.title, level=1)
    if plan.about:
        document.add_paragraph(plan.about)
    shown: tuple[str, ...] = ()
    for part in plan.parts:
        for depth, heading in enumerate(part.headings):
            if shown[: depth + 1] != part.headings[: depth + 1]:
                document.add_heading(heading, level=min(depth + 2, 3))
        shown = part.headings
        _report_table(document, part.targets)


def _report_table(document, targets: Sequence[ReportTarget]) -> None:
    from docx.shared import Cm

    table = document.add_table(rows=1, cols=len(REPORT_COLUMNS))
    table.style = "Table Grid"
    table.autofit = False
    for cell, (header, _) in zip(table.rows[0].cells, REPORT_COLUMNS, strict=True):
        cell.text = header
        cell.paragraphs[0].runs[0].bold = True
    _repeat_as_header(table.rows[0])
    for number, target in enumerate(targets, 1):
        cells = table.add_row().cells
        for cell, text in zip(cells[:-1], _target_cells(number, target), strict=True):
            cell.text = text
        _citation(cells[-1], target)
    for column, (_, width) in zip(table.columns, REPORT_COLUMNS, strict=True):
        column.width = Cm(width)  # the grid, which LibreOffice follows
        for cell in column.cells:
            cell.width = Cm(width)  # each cell, which Word follows


def _target_cells(number: int, target: ReportTarget) -> list[str]:
    row = target.row
    figure = row.statement or f"{row.value}{row.unit}"
    missing = [w for w in row.direction.split("、") if w and w not in figure]  # the direction is never lost
    aim = f"{row.indicator}：{figure}" if row.indicator else figure
    if missing:
        aim += f"（{'、'.join(missing)}）"
    if row.task:
        aim = f"{row.task}\n{aim}"
    due = target.deadline
    if row.year and str(row.year) not in due:
        due += f"（{row.year}年）"
    return [str(number), aim, due, row.lead_unit or "未明确", "、".join(row.partner_units)]


def _citation(cell, target: ReportTarget) -> None:
    """The section path in grey, then the verbatim sentence in quotes."""
    from docx.shared import Pt, RGBColor

    paragraph = cell.paragraphs[0]
    path = paragraph.add_run(target.section)
    path.font.size, path.font.color.rgb = Pt(9), RGBColor(0x59, 0x59, 0x59)
    cell.add_paragraph(f"“{target.row.quote}”")


def _repeat_as_header(row) -> None:
    """The table's header row printed again at the top of every page it runs onto."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(header)


def docx_to_pdf(data: bytes) -> bytes:
    """LibreOffice headless, in a private profile (a running LibreOffice would otherwise swallow the job)."""
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if not office:
        raise ConversionError("PDF 需要 LibreOffice / PDF needs LibreOffice (soffice): install it, or use --format docx")
    with tempfile.TemporaryDirectory(prefix="planqa-report-") as folder:
        source = Path(folder) / "report.docx"
        source.write_bytes(data)
        profile = (Path(folder) / "profile").as_uri()
        command = [office, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir", folder, str(source)]
        try:
            done = subprocess.run(command, check=True, capture_output=True, timeout=PDF_TIMEOUT_SECONDS, text=True)
        except (subprocess.SubprocessError, OSError) as exc:
            raise ConversionError(f"PDF 转换失败 / LibreOffice could not convert the report ({exc}): use --format docx") from exc
        pdf = source.with_suffix(".pdf")
        if not pdf.is_file():  # soffice exits 0 when it has no Writer to load a DOCX with
            raise ConversionError(
                f"PDF 转换失败 / LibreOffice wrote no PDF ({done.stderr.strip()[-200:] or 'no message'}): "
                "install LibreOffice Writer (Debian: libreoffice-writer-nogui), or use --format docx"
            )
        return pdf.read_bytes()
