"""The targets ledger as a report a leader reads and prints: DOCX (python-docx), PDF (LibreOffice headless)."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import ConversionError, SettingsError
from assistant.models import LEDGER_HEADERS, LedgerRow
from assistant.office.safe_text import clean_text

if TYPE_CHECKING:
    from assistant.facts.knowledge import Knowledge

REPORT_TITLE = "目标任务台账报告"
BODY_FONT, HEADING_FONT, LATIN_FONT = "宋体", "黑体", "Times New Roman"  # LibreOffice maps them to Noto CJK
REPORT_COLUMNS = (  # header, width in cm: 25.7 cm of landscape A4 between 2 cm margins
    ("序号", 1.3), ("指标与目标", 6.1), ("完成时限", 2.6),
    (LEDGER_HEADERS["lead_unit"], 3.2), (LEDGER_HEADERS["partner_units"], 4.2), ("出处", 8.3),
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
        named = f"{plan.title}（{plan.about}）" if plan.about else plan.title
        document.add_paragraph(clean_text(named), style="List Bullet")
    if not plans:
        document.add_paragraph("（没有符合条件的目标 / no targets match）")
    document.add_paragraph(
        "说明：每项目标按方案原文列出，“出处”为方案中的章节与原句；“完成时限”取原句中的时间表述。"
    )


def _report_plan(document, plan: ReportPlan) -> None:
    document.add_heading(clean_text(plan.title), level=1)
    if plan.about:
        document.add_paragraph(clean_text(plan.about))
    shown: tuple[str, ...] = ()
    for part in plan.parts:
        for depth, heading in enumerate(part.headings):
            if shown[: depth + 1] != part.headings[: depth + 1]:
                document.add_heading(clean_text(heading), level=min(depth + 2, 3))
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
            cell.text = clean_text(text)
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
    path = paragraph.add_run(clean_text(target.section))
    path.font.size, path.font.color.rgb = Pt(9), RGBColor(0x59, 0x59, 0x59)
    cell.add_paragraph(clean_text(f"“{target.row.quote}”"))


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
