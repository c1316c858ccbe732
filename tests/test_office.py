"""Deliverables an office prints and files: the answered questionnaire's layout and 说明 sheet, the ledger workbook."""

from __future__ import annotations

import csv
import shutil
import subprocess

import pytest
from openpyxl import Workbook, load_workbook

from assistant.batch import ANSWER_COLUMNS, answer_questionnaire
from assistant.office import ANSWER_WIDTHS

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
        letter = sheet.cell(row=1, column=columns[name]).column_letter
        assert sheet.column_dimensions[letter].width == ANSWER_WIDTHS[name]
        header = sheet.cell(row=1, column=columns[name])
        assert header.font.bold and header.fill.fgColor.rgb.endswith("DDEBF7")
        body = sheet.cell(row=2, column=columns[name])
        assert body.alignment.wrap_text and body.border.left.style == "thin"
    assert sheet.column_dimensions[sheet.cell(row=1, column=columns["答案"]).column_letter].width >= 40


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
    assert notes["出错"] == report.errors == 1
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


@pytest.mark.skipif(not (SOFFICE and shutil.which("pdftotext")), reason="needs LibreOffice and poppler-utils")
def test_printed_pdf_holds_a_whole_long_answer(answered):
    _, workbook, folder = answered
    sheet = workbook["问卷"]
    answers = [sheet.cell(row=r, column=_columns(sheet)["答案"]).value or "" for r in range(2, 6)]
    longest = max(answers, key=len)
    subprocess.run([SOFFICE, "--headless", "--convert-to", "pdf", "--outdir", str(folder), str(folder / "a.xlsx")],
                   check=True, timeout=180, capture_output=True)
    text = subprocess.run(["pdftotext", str(folder / "a.pdf"), "-"], check=True, capture_output=True, text=True).stdout
    squeezed = "".join(text.split())
    assert "".join(longest.split())[-20:] in squeezed  # the end of the answer printed, not cut off
