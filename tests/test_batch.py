"""Batch questionnaires over the real assistant: rows and columns kept, bad rows marked, resumable."""

from __future__ import annotations

import csv
import shutil
import subprocess
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook

from assistant.errors import InputFileError
from assistant.office.questionnaire import ANSWER_COLUMNS, answer_questionnaire, checkpoint_path

QUESTIONS = [
    "2030年非化石能源消费比重的目标是多少？",
    "老旧小区改造谁牵头？",
    "鹤城区计划哪一年实现碳中和？",
    None,  # an empty row inside the sheet
    "碳达峰实施方案印发通知的文号是多少？",
]


def make_xlsx(path, questions=QUESTIONS, title_row: bool = False, header=("序号", "问题", "备注")):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "问卷"
    if title_row:
        sheet.append(["鹤城区碳达峰政策问卷"])
    sheet.append(list(header))
    for number, question in enumerate(questions, 1):
        sheet.append([number, question, f"备注{number}"])
    workbook.create_sheet("说明").append(["这张表必须原样保留"])
    workbook.save(path)
    return path


class Counting:
    """Wraps the assistant: counts questions, and can "crash" (KeyboardInterrupt) at the n-th one."""

    def __init__(self, assistant, crash_at: int | None = None):
        self.assistant, self.crash_at, self.asked = assistant, crash_at, []

    def ask(self, question, history=None):
        if self.crash_at is not None and len(self.asked) + 1 == self.crash_at:
            raise KeyboardInterrupt
        self.asked.append(question)
        return self.assistant.ask(question, history)

    @property
    def knowledge(self):
        return self.assistant.knowledge

    def prefetch(self, questions):
        self.assistant.prefetch(questions)

    def problem(self):
        return self.assistant.problem()


def test_xlsx_rows_and_columns_kept(assistant, tmp_path):
    source = make_xlsx(tmp_path / "q.xlsx", title_row=True)
    before = source.read_bytes()
    report = answer_questionnaire(assistant, source, tmp_path / "a.xlsx", progress=False)
    assert source.read_bytes() == before
    assert (report.rows, report.errors, report.skipped, report.answered, report.abstained) == (5, 0, 1, 4, 1)
    workbook = load_workbook(tmp_path / "a.xlsx")
    assert workbook.sheetnames == ["问卷", "说明", "问答说明"] and workbook["说明"]["A1"].value == "这张表必须原样保留"
    rows = list(workbook["问卷"].values)
    assert rows[0][0] == "鹤城区碳达峰政策问卷" and len(rows) == 1 + 1 + len(QUESTIONS)
    assert rows[1] == ("序号", "问题", "备注", *ANSWER_COLUMNS)
    body = rows[2:]
    assert [r[:3] for r in body] == [(i, q, f"备注{i}") for i, q in enumerate(QUESTIONS, 1)]
    first, empty, abstained = body[0], body[3], body[2]
    assert "31%" in first[3] and "二、主要目标" in first[4] and "31%" in first[5]
    assert 0 <= first[6] <= 1 and first[7] == "是"
    assert abstained[7] == "否" and "方案中未明确" in abstained[3]
    assert empty[3] is None and not empty[7]  # a skipped row is left as it was; the 说明 sheet lists it
    assert not checkpoint_path(tmp_path / "a.xlsx").exists()


def test_over_long_question_gets_error_cell(assistant, settings, tmp_path):
    source = make_xlsx(tmp_path / "q.xlsx", questions=["碳" * (settings.max_question_chars + 5), "老旧小区改造谁牵头？"])
    report = answer_questionnaire(assistant, source, tmp_path / "a.xlsx", progress=False)
    rows = list(load_workbook(tmp_path / "a.xlsx").active.values)
    assert report.errors == 1 and report.error_rows == [2]
    assert "too long" in rows[1][3] and "住房和城乡建设局" in rows[2][3]


def test_missing_column_lists_the_columns(assistant, tmp_path):
    source = make_xlsx(tmp_path / "q.xlsx", header=("序号", "提问内容", "备注"))
    with pytest.raises(InputFileError, match="columns found: 序号, 提问内容, 备注"):
        answer_questionnaire(assistant, source, tmp_path / "a.xlsx", progress=False)
    answer_questionnaire(assistant, source, tmp_path / "a.xlsx", column="提问内容", progress=False)
    assert list(load_workbook(tmp_path / "a.xlsx").active.values)[0][3] == "答案"


def test_unknown_sheet_lists_the_sheets(assistant, tmp_path):
    source = make_xlsx(tmp_path / "q.xlsx")
    with pytest.raises(InputFileError, match="sheets: 问卷, 说明"):
        answer_questionnaire(assistant, source, tmp_path / "a.xlsx", sheet="Sheet9", progress=False)


def test_output_must_not_be_the_input(assistant, tmp_path):
    source = make_xlsx(tmp_path / "q.xlsx")
    before = source.read_bytes()
    with pytest.raises(InputFileError, match="overwrite the input"):
        answer_questionnaire(assistant, source, tmp_path / "." / "q.xlsx", progress=False)
    assert source.read_bytes() == before


def test_unreadable_files_are_clear_errors(assistant, tmp_path):
    fake = tmp_path / "q.xlsx"
    fake.write_bytes(b"this is not a workbook")
    with pytest.raises(InputFileError, match="q.xlsx: .*cannot read it as an xlsx workbook"):
        answer_questionnaire(assistant, fake, tmp_path / "a.xlsx", progress=False)
    with pytest.raises(InputFileError, match="unsupported file type"):
        answer_questionnaire(assistant, fake, tmp_path / "a.txt", progress=False)
    fake_xls = tmp_path / "q.xls"
    fake_xls.write_bytes(b"this is not a workbook either")
    with pytest.raises(InputFileError, match="q.xls: .*cannot read it as an .xls workbook"):
        answer_questionnaire(assistant, fake_xls, tmp_path / "a.xlsx", progress=False)
    with pytest.raises(InputFileError, match="not found"):
        answer_questionnaire(assistant, tmp_path / "missing.xlsx", tmp_path / "a.xlsx", progress=False)


def test_resume_after_a_crash(assistant, tmp_path):
    source, output = make_xlsx(tmp_path / "q.xlsx"), tmp_path / "a.xlsx"
    crashing = Counting(assistant, crash_at=3)
    with pytest.raises(KeyboardInterrupt):
        answer_questionnaire(crashing, source, output, progress=False)
    assert not output.exists()  # no half-written result
    assert len(checkpoint_path(output).read_text("utf-8").splitlines()) == 2
    # a torn last line (the crash hit mid-write) is ignored, not fatal
    with open(checkpoint_path(output), "a", encoding="utf-8") as sidecar:
        sidecar.write('{"row": 9, "questi')
    resumed = Counting(assistant)
    report = answer_questionnaire(resumed, source, output, resume=True, progress=False)
    assert report.resumed == 2 and resumed.asked == [q for q in QUESTIONS[2:] if q]
    rows = list(load_workbook(output).active.values)
    assert len(rows) == 1 + len(QUESTIONS) and "31%" in rows[1][3] and "住房和城乡建设局" in rows[2][3]
    assert not checkpoint_path(output).exists()


def test_without_resume_a_stale_checkpoint_is_ignored(assistant, tmp_path):
    source, output = make_xlsx(tmp_path / "q.xlsx"), tmp_path / "a.xlsx"
    checkpoint_path(output).write_text('{"row": 1, "question": "2030年非化石能源消费比重的目标是多少？", "cells": ["旧答案", "", "", 0, "是"]}\n', "utf-8")
    counting = Counting(assistant)
    answer_questionnaire(counting, source, output, progress=False)
    assert len(counting.asked) == 4 and "旧答案" not in str(list(load_workbook(output).active.values))


def test_csv_in_csv_out(assistant, tmp_path):
    source = tmp_path / "q.csv"
    source.write_text("编号,问题,备注\n1,2030年非化石能源消费比重的目标是多少？,a\n2,,b\n3,老旧小区改造谁牵头？,c\n", "utf-8")
    report = answer_questionnaire(assistant, source, tmp_path / "a.csv", progress=False)
    with open(tmp_path / "a.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["编号", "问题", "备注", *ANSWER_COLUMNS] and len(rows) == 4
    assert [r[:3] for r in rows[1:]] == [["1", "2030年非化石能源消费比重的目标是多少？", "a"], ["2", "", "b"], ["3", "老旧小区改造谁牵头？", "c"]]
    assert "31%" in rows[1][3] and rows[2][3].startswith("跳过") and (report.errors, report.skipped) == (0, 1)


def test_gbk_csv_to_xlsx(assistant, tmp_path):
    source = tmp_path / "q.csv"
    source.write_bytes("问题\n老旧小区改造谁牵头？\n".encode("gb18030"))
    answer_questionnaire(assistant, source, tmp_path / "a.xlsx", progress=False)
    rows = list(load_workbook(tmp_path / "a.xlsx").active.values)
    assert rows[0][:2] == ("问题", "答案") and "住房和城乡建设局" in rows[1][1]


def test_batch_command(assistant, tmp_path, monkeypatch, capsys):
    from assistant.answer import Assistant
    from assistant.cli import main

    monkeypatch.setattr(Assistant, "from_settings", classmethod(lambda cls, settings=None, **kw: assistant))
    source = make_xlsx(tmp_path / "q.xlsx")
    assert main(["batch", str(source), "-o", str(tmp_path / "out.xlsx"), "--no-progress"]) == 0
    assert "5 行 / rows" in capsys.readouterr().err
    assert len(list(load_workbook(tmp_path / "out.xlsx").active.values)) == 6


class Buggy(Counting):
    """The real assistant with a bug on one question: a builtin exception, not a PlanqaError."""

    def ask(self, question, history=None):
        if "谁牵头" in question:
            raise KeyError("bug")
        return super().ask(question, history)


def test_a_bug_in_one_row_is_an_internal_error_cell_and_the_rest_are_answered(assistant, tmp_path, caplog):
    source = make_xlsx(tmp_path / "q.xlsx")
    report = answer_questionnaire(Buggy(assistant), source, tmp_path / "a.xlsx", progress=False)
    rows = list(load_workbook(tmp_path / "a.xlsx").active.values)
    assert report.errors == 1 and report.error_rows == [3] and report.skipped_rows == [5]  # the bug; the empty row is skipped
    assert "internal error" in rows[2][3] and "bug" not in rows[2][3]
    assert "31%" in rows[1][3] and "方案中未明确" in rows[3][3] and not rows[5][3].startswith("错误")
    assert any(r.exc_info and isinstance(r.exc_info[1], KeyError) for r in caplog.records)


def test_rows_that_are_no_questions_are_skipped_with_the_reason(assistant, tmp_path):
    rows = ["一、能源目标", "1、森林覆盖率2025年目标是多少？（第1题）", "合计", "=SUM(A2:A3)", "填表说明：每格填一个问题"]
    source = make_xlsx(tmp_path / "q.xlsx", questions=rows)
    report = answer_questionnaire(assistant, source, tmp_path / "a.xlsx", progress=False)
    assert (report.rows, report.answered, report.skipped, report.errors) == (5, 1, 4, 0)
    assert report.skipped_rows == [2, 4, 5, 6]
    body = list(load_workbook(tmp_path / "a.xlsx")["问卷"].values)[1:]
    assert [r[1] for r in body] == rows  # every question cell as written, label included
    assert all(body[i][3] is None for i in (0, 2, 3, 4))  # nothing printed beside a section heading
    reasons = [row[1] for row in load_workbook(tmp_path / "a.xlsx")["问答说明"].values if str(row[1]).startswith("第 ")]
    # an xlsx formula with no saved value is named as a formula, not as a blank or an empty question
    assert [r.split("：")[0] for r in reasons] == ["第 2 行", "第 4 行", "第 5 行", "第 6 行"]
    assert "section header" in reasons[0] and "totals" in reasons[1] and "formula" in reasons[2] and "instructions" in reasons[3]
    assert "67%" in body[1][3] and body[1][7] == "是"


def test_a_formula_in_a_csv_is_skipped(assistant, tmp_path):
    source = tmp_path / "q.csv"
    source.write_text("问题\n=SUM(B2:B9)\n老旧小区改造谁牵头？\n", encoding="utf-8")
    report = answer_questionnaire(assistant, source, tmp_path / "a.csv", progress=False)
    assert (report.skipped, report.answered, report.errors) == (1, 1, 0)
    rows = list(csv.reader(open(tmp_path / "a.csv", encoding="utf-8-sig")))
    assert rows[1][0] == "=SUM(B2:B9)" and "formula" in rows[1][1]


# ---------------------------------------------------------------- old .xls questionnaires

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture(scope="module")
def quick_assistant(knowledge):
    """The real answering over the bulletin with a model-free retriever: .xls tests stay in the quick tier."""
    from assistant.answer import Assistant
    from assistant.config import load_settings
    from tests.conftest import OverlapRetriever

    return Assistant(knowledge, OverlapRetriever(knowledge), load_settings())


@pytest.fixture(scope="module")
def xls_questionnaire(tmp_path_factory):
    """An .xls as offices still send them: made by LibreOffice from an xlsx with a merged title and a date."""
    if not SOFFICE:
        pytest.skip("needs LibreOffice (soffice) to write an .xls")
    folder = tmp_path_factory.mktemp("xls")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "问卷"
    sheet.append(["鹤城区碳达峰政策问卷"])
    sheet.merge_cells("A1:D1")
    sheet.append(["序号", "问题", "填报日期", "备注"])
    sheet.append([1, "2030年非化石能源消费比重的目标是多少？", datetime(2024, 5, 6), "甲"])
    sheet.append([2, "老旧小区改造谁牵头？", datetime(2024, 5, 7), "乙"])
    sheet.column_dimensions["B"].width = 42
    workbook.create_sheet("其他").append(["另一张表"])
    workbook.save(folder / "q.xlsx")
    profile = (folder / "profile").as_uri()
    subprocess.run([SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xls", "--outdir", str(folder),
                    str(folder / "q.xlsx")], check=True, timeout=180, capture_output=True)
    assert (folder / "q.xls").read_bytes().startswith(b"\xd0\xcf\x11\xe0")  # the old compound-file format
    return folder / "q.xls"


def test_xls_questionnaire_is_read_and_answered_as_xlsx(quick_assistant, xls_questionnaire, tmp_path):
    report = answer_questionnaire(quick_assistant, xls_questionnaire, tmp_path / "a.xls", progress=False)
    assert report.output_path == tmp_path / "a.xlsx" and not (tmp_path / "a.xls").exists()
    assert (report.rows, report.answered, report.errors) == (2, 2, 0)
    workbook = load_workbook(tmp_path / "a.xlsx")
    sheet = workbook["问卷"]
    rows = list(sheet.values)
    assert rows[0][0] == "鹤城区碳达峰政策问卷" and "A1:D1" in {str(r) for r in sheet.merged_cells.ranges}
    assert rows[1] == ("序号", "问题", "填报日期", "备注", *ANSWER_COLUMNS)
    assert rows[2][:4] == (1, "2030年非化石能源消费比重的目标是多少？", datetime(2024, 5, 6), "甲")  # int, date kept
    assert "31%" in rows[2][4]
    assert sheet.column_dimensions["B"].width >= 20  # the question column wraps at a readable width
    notes = "".join(str(v) for row in workbook["说明"].values for v in row if v)
    assert ".xls" in notes and ".xlsx" in notes


def test_xls_sheet_by_name_and_bad_column(quick_assistant, xls_questionnaire, tmp_path):
    with pytest.raises(InputFileError, match="sheets: 问卷, 其他"):
        answer_questionnaire(quick_assistant, xls_questionnaire, tmp_path / "a.xlsx", sheet="没有", progress=False)
    with pytest.raises(InputFileError, match="columns found: 序号, 问题, 填报日期, 备注"):
        answer_questionnaire(quick_assistant, xls_questionnaire, tmp_path / "a.xlsx", column="题目", progress=False)


def test_batch_command_says_an_xls_is_answered_as_xlsx(quick_assistant, xls_questionnaire, tmp_path, monkeypatch, capsys):
    import assistant.answer
    from assistant.cli import main

    monkeypatch.setattr(assistant.answer.Assistant, "from_settings", lambda *a, **k: quick_assistant)
    assert main(["batch", str(xls_questionnaire), "-o", str(tmp_path / "答卷.xls"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert str(tmp_path / "答卷.xlsx") in err and ".xls" in err and (tmp_path / "答卷.xlsx").is_file()


def test_the_page_takes_an_xls_and_hands_back_the_answered_xlsx(quick_assistant, xls_questionnaire, settings, tmp_path_factory):
    import httpx

    from tests.conftest import served_page
    from tests.test_security import _event, call_gradio, file_data

    with served_page(quick_assistant, settings, tmp_path_factory) as base:
        config = httpx.get(f"{base}/config").json()
        assert any(".xls" in (c.get("props", {}).get("file_types") or []) for c in config["components"])
        upload = httpx.post(f"{base}/gradio_api/upload", files={"files": ("问卷.xls", xls_questionnaire.read_bytes())})
        reply = call_gradio(base, _event(base, "answer_file"), [file_data(upload.json()[0]), "问题", ""])
        summary, result = reply["output"]["data"]
        assert summary.startswith("完成：共 2 题") and result["url"].endswith(".xlsx")
        answered = tmp_path_factory.mktemp("xls-page") / "a.xlsx"
        answered.write_bytes(httpx.get(result["url"]).content)
        assert "31%" in str(list(load_workbook(answered)["问卷"].values))
