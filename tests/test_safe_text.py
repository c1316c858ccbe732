"""Text safe for every writer (assistant/office/safe_text.py): a plan whose text holds control characters
(pdftotext's form feed at a page break, \\v, \\x01) or a lone surrogate still gives every deliverable, and a
cell that would start a formula (= + - @) is written as text in xlsx and csv."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import replace

import pytest
from openpyxl import load_workbook

from assistant.models import Answer, Citation, LedgerRow
from assistant.office.safe_text import clean_text
from tests.conftest import StandIn

# A synthetic plan: controls inside target sentences, one sentence starting with "=".
PLAN = (
    "某县节能示范实施方案\n\n一、主要目标\n到2025年，全县示范项目覆盖率达\f到45%以上。\n\n"
    "二、重点任务\n（一）节能示范行动\n1.推进示范项目。到2027年，示范单\v位数量达到\x0130个。"
    "（牵头单位：县发改局；配合单位：县住建局）\n2.推进能效提升。=到2026年，能效提升比例达到12%。（牵头单位：县工信局）\n"
)
CONTROLS = ("\f", "\v", "\x01")
FORMULAS = ['=HYPERLINK("http://x")', "=1+1", "+1", "-1", "@SUM(A1)"]
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def test_clean_text_keeps_tabs_and_line_breaks_and_replaces_the_rest():
    assert clean_text("a\tb\r\nc\rd\fe\x01f\x1fg\ud800h\ufffe") == "a\tb\nc\nd e f g\ufffdh "
    assert clean_text("到2025年，达到45%") == "到2025年，达到45%"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("controls") / "corpus"
    folder.mkdir()
    (folder / "plan.txt").write_text(PLAN, "utf-8")
    return folder


@pytest.fixture(scope="module")
def plan(corpus):
    from assistant.facts.knowledge import ledger_rows, load_knowledge

    knowledge = load_knowledge(corpus)
    rows = ledger_rows(knowledge)
    quotes = "".join(r.quote for r in rows)
    assert all(c in quotes for c in CONTROLS) and any(r.quote.startswith("=") for r in rows)  # the case at hand
    return knowledge, rows


def _no_controls(text: str) -> bool:
    return not any(c in text for c in CONTROLS)


def test_targets_xlsx_and_csv_of_a_plan_with_control_characters(corpus, tmp_path, capsys):
    from assistant.cli import main

    assert main(["targets", "--corpus", str(corpus), "--format", "xlsx", "-o", str(tmp_path / "t.xlsx")]) == 0
    sheet = load_workbook(tmp_path / "t.xlsx")["目标台账"]
    header = [c.value for c in sheet[1]]
    quotes = [sheet.cell(row=r, column=header.index("原文") + 1) for r in range(2, sheet.max_row + 1)]
    assert "到2025年，全县示范项目覆盖率达 到45%以上。" in [q.value for q in quotes]
    formula = next(q for q in quotes if q.value.startswith("="))
    assert formula.data_type == "s" and formula.quotePrefix  # the plan's "=…" sentence is text, not a formula
    assert main(["targets", "--corpus", str(corpus), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 3 and all(_no_controls(r["原文"]) for r in rows)
    assert "'=到2026年，能效提升比例达到12%。" in [r["原文"] for r in rows]


def test_report_of_a_plan_with_control_characters(plan):
    import docx

    from assistant.office.report import ledger_report

    knowledge, rows = plan
    document = docx.Document(io.BytesIO(ledger_report(knowledge, rows)))
    cells = "".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    assert "示范单 位数量达到 30个" in cells and _no_controls(cells)


def _has_writer() -> bool:
    from pathlib import Path

    return bool(SOFFICE) and any(Path(SOFFICE).resolve().parent.glob("libswlo.so"))


@pytest.mark.skipif(not _has_writer(), reason="needs LibreOffice Writer")
def test_report_pdf_of_a_plan_with_control_characters(corpus, tmp_path):
    from assistant.cli import main

    out = tmp_path / "报告.pdf"
    assert main(["report", "--corpus", str(corpus), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")


class Quoting(StandIn):
    """A stand-in assistant whose answer is the plan's sentence itself, as a cited answer quotes it."""

    def __init__(self, rows: list[LedgerRow]) -> None:
        self.rows = rows

    def ask(self, question, history=None):
        row = self.rows[int(question.split("第")[1].split("条")[0])]
        citation = Citation("plan.txt", row.clause_id, f"一、目标\f{row.action}", row.quote, 0, 1)
        return Answer(question, row.quote, "target", 0.9, False, (citation,))


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_answered_questionnaire_quoting_control_characters(plan, tmp_path, suffix):
    from openpyxl import Workbook

    from assistant.office.questionnaire import answer_questionnaire

    _, rows = plan
    workbook = Workbook()
    workbook.active.append(["序号", "问题"])
    for n in range(len(rows)):
        workbook.active.append([n + 1, f"请问第{n}条目标是什么？"])
    workbook.save(tmp_path / "q.xlsx")
    out = tmp_path / f"a{suffix}"
    report = answer_questionnaire(Quoting(rows), tmp_path / "q.xlsx", out, progress=False)
    assert report.answered == len(rows) and report.errors == 0
    if suffix == ".csv":
        grid = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"))))
        answers = [r[grid[0].index("答案")] for r in grid[1:]]
        assert "'=到2026年，能效提升比例达到12%。" in answers and all(_no_controls(a) for a in answers)
        return
    sheet = load_workbook(out).active
    answers = [sheet.cell(row=r, column=3) for r in range(2, sheet.max_row + 1)]
    assert all(_no_controls(a.value) for a in answers)
    formula = next(a for a in answers if a.value.startswith("="))
    assert formula.data_type == "s" and formula.quotePrefix


def test_a_lone_surrogate_is_replaced_in_every_format():
    import docx

    from assistant.office.ledger import render_ledger
    from assistant.office.report import ReportPart, ReportPlan, ReportTarget, report_docx
    from assistant.web.ledger_views import ledger_table

    row = LedgerRow(
        action="（一）行动", task="", indicator="比例", value="12", unit="%", qualifier="", statement="达到12%",
        year=2026, baseline="", lead_unit="县工信局", partner_units=(), clause_id="p#1", quote="能\ud800效达到12%\x0c。",
    )
    shown = "能\ufffd效达到12% 。"
    sheet = load_workbook(io.BytesIO(render_ledger([row], "xlsx")))["目标台账"]
    assert shown in [c.value for c in sheet[2]]
    assert shown in render_ledger([row], "csv").decode("utf-8-sig")
    plan = ReportPlan("某县方案", "", (ReportPart(("一、目标\ud800",), (ReportTarget(row, "一、目标", "到2026年"),)),))
    document = docx.Document(io.BytesIO(report_docx([plan])))
    assert any(shown in c.text for t in document.tables for r in t.rows for c in r.cells)
    assert shown in ledger_table([replace(row, quote=row.quote)])


@pytest.fixture
def audited(tmp_path, monkeypatch) -> None:
    """An audit log holding questions that a spreadsheet would run as formulas."""
    from assistant.audit import AuditedAnswerer, AuditStore

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("PLANQA_AUDIT_DB", url)
    store = AuditStore(url)

    class Echo:
        def ask(self, question, history=None):
            return Answer(question, "方案中未明确", "none", 0.1, True, ())

    asker = AuditedAnswerer(Echo(), store, "key-abc", "api")
    for question in FORMULAS:
        store.feedback(asker.ask_recorded(question)[1], -1, question, caller="key-abc", channel="api")
    assert store.flush(10)
    store.close()


def test_audit_export_writes_formula_looking_questions_and_comments_as_text(audited, tmp_path, capsys):
    from assistant.cli import main

    assert main(["audit", "-o", str(tmp_path / "audit.xlsx")]) == 0
    sheet = load_workbook(tmp_path / "audit.xlsx").active
    header = [c.value for c in sheet[1]]
    for name in ("问题", "意见"):
        cells = [sheet.cell(row=r, column=header.index(name) + 1) for r in range(2, sheet.max_row + 1)]
        assert [c.value for c in cells] == FORMULAS
        assert all(c.data_type == "s" and c.quotePrefix for c in cells)
    assert main(["audit", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["问题"] for r in rows] == [f"'{q}" for q in FORMULAS] == [r["意见"] for r in rows]


@pytest.mark.skipif(not SOFFICE, reason="needs LibreOffice")
def test_libreoffice_shows_the_audit_formulas_as_text(audited, tmp_path):
    from assistant.cli import main

    assert main(["audit", "-o", str(tmp_path / "audit.xlsx")]) == 0
    profile = (tmp_path / "profile").as_uri()
    subprocess.run([SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76",
                    "--outdir", str(tmp_path), str(tmp_path / "audit.xlsx")], check=True, capture_output=True, timeout=180)
    shown = list(csv.DictReader(io.StringIO((tmp_path / "audit.csv").read_text("utf-8"))))
    assert [r["问题"] for r in shown] == FORMULAS  # not "http://x" and "2": nothing was computed
