"""Deliverables an office prints and files: the answered questionnaire's layout and 说明 sheet, the ledger workbook."""

from __future__ import annotations

import csv
import shutil
import subprocess

import pytest
from openpyxl import Workbook, load_workbook

from assistant.office.questionnaire import ANSWER_COLUMNS, answer_questionnaire

QUESTIONS = ["2030年非化石能源消费比重的目标是多少？", "老旧小区改造谁牵头？", "鹤城区计划哪一年实现碳中和？", None]


def questionnaire(path, notes_sheet: bool = False):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "问卷"
    sheet.append(["序号", "问题"])
    for number, question in enumerate(QUESTIONS, 1):
        sheet.append([number, question])
    if notes_sheet:
        workbook.create_sheet("说明").append(["用户自己的说明"])
    workbook.save(path)
    return path


@pytest.fixture(scope="module")
def answered(assistant, tmp_path_factory):
    folder = tmp_path_factory.mktemp("office")
    report = answer_questionnaire(assistant, questionnaire(folder / "q.xlsx"), folder / "a.xlsx", progress=False)
    return report, load_workbook(folder / "a.xlsx"), folder


def _columns(sheet) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1] if cell.value}


def test_answer_columns_are_wide_wrapped_styled_and_bordered(answered):
    _, workbook, _ = answered
    sheet = workbook["问卷"]
    columns = _columns(sheet)
    for name in ANSWER_COLUMNS:
        header = sheet.cell(row=1, column=columns[name])
        assert header.font.bold and header.fill.fgColor.rgb.endswith("DDEBF7")
        body = sheet.cell(row=2, column=columns[name])
        assert body.alignment.wrap_text and body.border.left.style == "thin"
    assert sheet.column_dimensions[sheet.cell(row=1, column=columns["答案"]).column_letter].width >= 30


def test_print_setup_repeats_the_header_landscape_one_page_wide(answered):
    sheet = answered[1]["问卷"]
    assert sheet.freeze_panes == "A2"
    assert sheet.print_title_rows.replace("$", "") == "1:1"
    assert sheet.page_setup.orientation == "landscape"
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage


def test_abstentions_are_filled(answered):
    sheet = answered[1]["问卷"]
    column = _columns(sheet)["方案是否明确"]
    marks = {sheet.cell(row=r, column=column).value: sheet.cell(row=r, column=column).fill.fgColor.rgb for r in range(2, 6)}
    assert "否" in marks and marks["否"].endswith("FCE4D6")
    assert "是" in marks and not marks["是"].endswith("FCE4D6")


def test_notes_sheet_names_plans_date_and_counts(answered, assistant):
    report, workbook, _ = answered
    assert workbook.sheetnames == ["问卷", "说明"]
    notes = {row[0]: row[1] for row in workbook["说明"].iter_rows(values_only=True) if row[0]}
    assert notes["已回答"] == report.answered and notes["其中方案中未明确"] == report.abstained
    assert notes["出错"] == report.errors == 0 and notes["跳过（非问题行）"] == report.skipped == 1
    assert len(notes["生成日期"]) == 10
    document = assistant.knowledge.documents[0].name
    assert document in notes["依据方案"]


def test_users_own_notes_sheet_survives(assistant, tmp_path):
    answer_questionnaire(assistant, questionnaire(tmp_path / "q.xlsx", notes_sheet=True), tmp_path / "a.xlsx", progress=False)
    workbook = load_workbook(tmp_path / "a.xlsx")
    assert workbook.sheetnames == ["问卷", "说明", "问答说明"]
    assert workbook["说明"]["A1"].value == "用户自己的说明"


def test_csv_output_stays_plain_csv_with_bom(assistant, tmp_path):
    answer_questionnaire(assistant, questionnaire(tmp_path / "q.xlsx"), tmp_path / "a.csv", progress=False)
    raw = (tmp_path / "a.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["序号", "问题", *ANSWER_COLUMNS]


def test_ragged_csv_row_is_kept_whole_under_a_generated_header(assistant, tmp_path, caplog):
    source = tmp_path / "q.csv"
    source.write_text("序号,问题\n1,老旧小区改造谁牵头？,多出的一格\n2,月球基地哪一年建成？\n", encoding="utf-8")
    answer_questionnaire(assistant, source, tmp_path / "a.csv", progress=False)
    rows = list(csv.reader((tmp_path / "a.csv").read_text("utf-8-sig").splitlines()))
    assert rows[0] == ["序号", "问题", "附加列3", *ANSWER_COLUMNS]
    assert rows[1][2] == "多出的一格" and rows[1][3]  # the extra cell kept, the answer beside it
    assert rows[2][2] == "" and rows[2][3]
    assert "2" in caplog.text and "more cells than the header" in caplog.text


def test_output_file_has_normal_permissions(assistant, tmp_path):
    import os

    old = os.umask(0o022)
    try:
        answer_questionnaire(assistant, questionnaire(tmp_path / "q.xlsx"), tmp_path / "a.xlsx", progress=False)
    finally:
        os.umask(old)
    assert (tmp_path / "a.xlsx").stat().st_mode & 0o777 == 0o644


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


# pdftotext reports a word's box from its font's ascent and descent: about 1.1 em for the CJK fonts LibreOffice uses.
PRINTED_EM = 1.1


def printed_words(xlsx) -> list[tuple[str, float]]:
    """Each word LibreOffice prints of `xlsx`, in reading order, with its printed height in points."""
    import re

    subprocess.run([SOFFICE, "--headless", "--convert-to", "pdf", "--outdir", str(xlsx.parent), str(xlsx)],
                   check=True, timeout=180, capture_output=True)
    boxes = subprocess.run(["pdftotext", "-bbox", str(xlsx.with_suffix(".pdf")), "-"], check=True, capture_output=True,
                           text=True).stdout
    pattern = r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>'
    return [(word, float(bottom) - float(top)) for top, bottom, word in re.findall(pattern, boxes)]


def printed_in_order(text: str, words: list[str]) -> bool:
    """The text printed whole, line by line (other columns' words interleave on each printed line)."""
    from html import unescape

    rest = "".join(text.split())
    for word in map(unescape, words):
        if word and rest.startswith(word):
            rest = rest[len(word):]
    return not rest


@pytest.mark.skipif(not (SOFFICE and shutil.which("pdftotext")), reason="needs LibreOffice and poppler-utils")
def test_printed_pdf_is_readable_and_holds_every_answer_whole(answered):
    _, workbook, folder = answered
    sheet = workbook["问卷"]
    answers = [sheet.cell(row=r, column=_columns(sheet)["答案"]).value for r in range(2, 6)]
    words = printed_words(folder / "a.xlsx")
    assert all(printed_in_order(answer, [w for w, _ in words]) for answer in answers if answer)
    han = sorted(height for word, height in words if any("\u4e00" <= ch <= "\u9fff" for ch in word))
    assert han[len(han) // 2] / PRINTED_EM >= 9  # the body text prints at 9 pt or more
    assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4) and sheet.page_setup.orientation == "landscape"


# ---------------------------------------------------------------- the ledger workbook

def ledger_row(**changes):
    from dataclasses import replace

    from assistant.models import LedgerRow

    row = LedgerRow(
        action="（一）能源行动", task="1.发展光伏", indicator="光伏装机", value="16.24", unit="万千瓦", qualifier="不低于",
        statement="不低于16.24万千瓦", year=2025, baseline="", lead_unit="发改局", partner_units=("能源局", "住建局"),
        clause_id="d#3", quote="到2025年，光伏装机不低于16.24万千瓦。" * 5,
    )
    return replace(row, **changes)


class WithPlan:
    """A ledger row that names its plan, as LedgerRow may once rows come from several plans."""

    def __init__(self, row, plan):
        self.row, self.plan = row, plan

    def __getattr__(self, name):
        return getattr(self.row, name)


def test_ledger_workbook_is_filed_ready(tmp_path):
    from assistant.office.ledger import write_ledger

    out = tmp_path / "台账.xlsx"
    write_ledger([ledger_row(), ledger_row(value="5", unit="个", year=2030), ledger_row(value="一半")], out)
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["目标台账", "图表"]
    sheet = workbook["目标台账"]
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["行动", "任务", "指标", "目标值", "单位", "限定词"] and "方案" not in header  # as the csv
    values = [row[header.index("目标值")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert values == [16.24, 5, "一半"] and isinstance(values[1], int)
    assert sheet.cell(row=2, column=header.index("配合单位") + 1).value == "能源局、住建局"
    quote = sheet.cell(row=2, column=header.index("原文") + 1)
    assert quote.alignment.wrap_text and sheet.column_dimensions[quote.column_letter].width == 60
    value_letter = sheet.cell(row=1, column=header.index("目标值") + 1).column_letter
    assert 6 <= sheet.column_dimensions[value_letter].width < 20  # 目标值: fitted, not the default
    assert sheet.auto_filter.ref == sheet.dimensions and sheet.freeze_panes == "A2"
    assert sheet[1][0].font.bold and sheet.page_setup.orientation == "landscape"


def test_ledger_columns_are_defined_once_and_every_rendering_follows_them():
    import io
    import re
    from dataclasses import fields

    from assistant.models import LEDGER_COLUMNS, LEDGER_HEADERS, LedgerRow
    from assistant.office.ledger import render_ledger
    from assistant.web.ledger_views import ledger_table
    from assistant.web.schemas import LedgerRowOut

    assert sorted(c.field for c in LEDGER_COLUMNS) == sorted(f.name for f in fields(LedgerRow))
    headers = [c.header for c in LEDGER_COLUMNS]
    assert len(set(headers)) == len(headers)
    row = ledger_row(plan="甲市方案", direction="不低于")
    assert render_ledger([row], "csv").decode("utf-8-sig").splitlines()[0].split(",") == headers
    sheet = load_workbook(io.BytesIO(render_ledger([row], "xlsx")))["目标台账"]
    assert [c.value for c in sheet[1]] == headers
    assert list(LedgerRowOut.model_fields) == [c.field for c in LEDGER_COLUMNS]
    shown = re.findall(r"<th>(.*?)</th>", ledger_table([row]))
    assert shown and set(shown) <= set(LEDGER_HEADERS.values())
    assert render_ledger([row], "table").decode("utf-8").split()[:2] == [LEDGER_HEADERS["action"], LEDGER_HEADERS["indicator"]]


def test_ledger_workbook_has_a_sheet_per_plan(tmp_path):
    from assistant.office.ledger import write_ledger

    rows = [WithPlan(ledger_row(), "甲市碳达峰实施方案"), WithPlan(ledger_row(value="3"), "乙县/丙县[联合]方案")]
    write_ledger(rows, tmp_path / "台账.xlsx")
    workbook = load_workbook(tmp_path / "台账.xlsx")
    assert workbook.sheetnames == ["目标台账", "甲市碳达峰实施方案", "乙县_丙县_联合_方案", "图表"]
    header = [c.value for c in workbook["目标台账"][1]]
    assert "方案" in header and workbook["乙县_丙县_联合_方案"].max_row == 2


def _series_refs(chart) -> tuple[str, str]:
    series = chart.series[0]
    return series.val.numRef.f, series.cat.strRef.f if series.cat.strRef else series.cat.numRef.f


def test_ledger_chart_sheet_counts_targets_per_action_and_year(tmp_path):
    from assistant.office.ledger import write_ledger

    rows = [
        ledger_row(), ledger_row(year=2030), ledger_row(action="（二）交通行动", year=2030),
        ledger_row(action="（二）交通行动", year=None), ledger_row(action="（二）交通行动", year=2025),
    ]
    write_ledger(rows, tmp_path / "台账.xlsx")
    sheet = load_workbook(tmp_path / "台账.xlsx")["图表"]
    values = list(sheet.iter_rows(values_only=True))
    assert [v[:2] for v in values[:3]] == [("行动", "目标数"), ("（一）能源行动", 2), ("（二）交通行动", 3)]
    assert [v[3:5] for v in values[:4]] == [("年份", "目标数"), ("2025", 2), ("2030", 2), ("未注明", 1)]
    by_action, by_year = sheet._charts
    assert _series_refs(by_action) == ("'图表'!$B$2:$B$3", "'图表'!$A$2:$A$3")
    assert _series_refs(by_year) == ("'图表'!$E$2:$E$4", "'图表'!$D$2:$D$4")
    assert by_action.type == "bar" and by_year.type == "col"
    assert by_action.anchor._from.row + 1 < by_year.anchor._from.row  # stacked, not drawn over each other


def test_ledger_chart_labels_actions_by_plan_when_several(tmp_path):
    from assistant.office.ledger import ledger_counts

    by_action, _ = ledger_counts([WithPlan(ledger_row(), "甲市方案"), WithPlan(ledger_row(), "乙县方案")])
    assert by_action.counts == (("甲市方案：（一）能源行动", 1), ("乙县方案：（一）能源行动", 1))


# ---------------------------------------------------------------- the ledger report (DOCX, PDF)

def _docx(data: bytes):
    import io

    import docx

    return docx.Document(io.BytesIO(data))


def _headings(document) -> list[tuple[str, str]]:
    return [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]


def _table_rows(document) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for table in document.tables for row in table.rows]


def test_report_lists_each_target_with_units_deadline_and_citation(knowledge):
    from assistant.facts.knowledge import ledger_rows
    from assistant.office.report import ledger_report

    rows = ledger_rows(knowledge)
    document = _docx(ledger_report(knowledge, rows))
    headings = _headings(document)
    assert headings[0] == ("Title", "目标任务台账报告")
    assert ("Heading 1", "怀化市鹤城区碳达峰实施方案") in headings
    # the plan's own outline, each heading once, in the plan's order: sections, then the actions under them
    shown = [(style, text) for style, text in headings if style in ("Heading 2", "Heading 3")]
    assert shown[:3] == [("Heading 2", "二、主要目标"), ("Heading 2", "三、重点任务"), ("Heading 3", "（一）能源绿色低碳转型行动")]
    assert len(shown) == len(set(shown)) and len({r.action for r in rows}) == len(shown) - 1
    text = "\n".join(p.text for p in document.paragraphs)
    assert "生成日期" in text and f"目标共 {len(rows)} 项" in text
    table = _table_rows(document)
    assert sum(1 for r in table if r[0] != "序号") == len(rows)
    energy = next(r for r in table if "单位GDP能耗：较2020年下降14.5%" in r[1])  # figure with its direction word
    assert energy[2] == "到2025年" and "二、主要目标" in energy[5] and "下降14.5%" in energy[5]
    task = next(r for r in rows if r.lead_unit and r.partner_units and r.year)
    cells = next(c for c in table if task.quote in c[5] and task.statement in c[1])
    assert cells[3] == task.lead_unit and cells[4] == "、".join(task.partner_units) and str(task.year) in cells[2]
    assert knowledge.clause(task.clause_id).section in cells[5]  # citation: section path + verbatim sentence


def test_report_pages_and_fonts_suit_chinese_print(knowledge):
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn

    from assistant.facts.knowledge import ledger_rows
    from assistant.office.report import ledger_report

    document = _docx(ledger_report(knowledge, ledger_rows(knowledge, year=2030)))
    assert document.sections[0].orientation == WD_ORIENT.LANDSCAPE
    for name, font in (("Normal", "宋体"), ("Heading 1", "黑体")):
        fonts = document.styles[name].element.rPr.rFonts
        assert fonts.get(qn("w:eastAsia")) == font and fonts.get(qn("w:eastAsiaTheme")) is None
    header = document.tables[0].rows[0]._tr
    assert header.find(qn("w:trPr")).find(qn("w:tblHeader")) is not None  # repeated on every printed page


def test_report_keeps_a_direction_the_statement_lacks_and_nests_headings():
    from assistant.office.report import ReportPart, ReportPlan, ReportTarget, report_docx

    plain = ReportTarget(ledger_row(direction="力争", year=None), "三、任务 > （一）能源行动 > 1.发展光伏", "未注明")
    other = ReportTarget(ledger_row(lead_unit=""), "三、任务 > （二）交通行动", "到2025年")
    plan = ReportPlan("甲市方案", "甲市人民政府", (
        ReportPart(("三、任务", "（一）能源行动"), (plain,)), ReportPart(("三、任务", "（二）交通行动"), (other,)),
    ))
    document = _docx(report_docx([plan]))
    assert [t for _, t in _headings(document)] == ["目标任务台账报告", "甲市方案", "三、任务", "（一）能源行动", "（二）交通行动"]
    first, second = (r for r in _table_rows(document) if r[0] != "序号")
    assert first[1].endswith("光伏装机：不低于16.24万千瓦（力争）") and first[2] == "未注明"
    assert second[2] == "到2025年" and second[3] == "未明确"


def test_report_command_writes_docx_and_refuses_other_suffixes(tmp_path, monkeypatch, capsys):
    from assistant.cli import main
    from tests.conftest import CORPUS

    monkeypatch.chdir(tmp_path)
    assert main(["report", "--corpus", str(CORPUS), "--plan", "鹤城", "--year", "2030"]) == 0
    document = _docx((tmp_path / "目标台账报告.docx").read_bytes())
    assert "提高到31%以上" in "".join(c for r in _table_rows(document) for c in r)
    assert (tmp_path / "目标台账报告.docx").stat().st_mode & 0o044  # readable by colleagues
    assert main(["report", "--corpus", str(CORPUS), "-o", "报告.txt"]) == 2
    assert "docx" in capsys.readouterr().err and not (tmp_path / "报告.txt").exists()


def _has_writer() -> bool:
    from pathlib import Path

    return bool(SOFFICE) and any(Path(SOFFICE).resolve().parent.glob("libswlo.so"))


@pytest.mark.skipif(not (_has_writer() and shutil.which("pdftotext")), reason="needs LibreOffice Writer and poppler-utils")
def test_report_as_pdf_prints_figures_and_citations(tmp_path):
    from assistant.cli import main
    from tests.conftest import CORPUS

    out = tmp_path / "报告.pdf"
    assert main(["report", "--corpus", str(CORPUS), "--year", "2030", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    text = "".join(subprocess.run(["pdftotext", str(out), "-"], check=True, capture_output=True, text=True).stdout.split())
    assert "目标任务台账报告" in text and "提高到31%以上" in text and "二、主要目标" in text


def test_report_api_is_key_protected_and_declared_binary(assistant, settings, tmp_path):
    from fastapi.testclient import TestClient

    from assistant.office.report import DOCX_MEDIA_TYPE
    from assistant.web.api import create_app
    from assistant.web.service import ServedAssistant

    keyed = settings.with_overrides(api_keys="report-key-1", audit_log=tmp_path / "audit.jsonl")
    client = TestClient(create_app(ServedAssistant.of(assistant), keyed))
    assert client.get("/api/report").status_code == 401
    response = client.get("/api/report", params={"year": 2030}, headers={"X-API-Key": "report-key-1"})
    assert response.status_code == 200 and response.headers["content-type"] == DOCX_MEDIA_TYPE
    assert "attachment" in response.headers["content-disposition"]
    assert "提高到31%以上" in "".join(c for r in _table_rows(_docx(response.content)) for c in r)
    operation = client.get("/openapi.json").json()["paths"]["/api/report"]["get"]
    assert operation["operationId"] == "report"
    assert operation["responses"]["200"]["content"][DOCX_MEDIA_TYPE]["schema"]["format"] == "binary"
    assert "401" in operation["responses"]
