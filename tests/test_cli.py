import json

from openpyxl import load_workbook

from assistant.cli import main


def test_targets_csv_by_unit_alias(capsys):
    assert main(["targets", "--unit", "林业局", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("行动,任务,指标,目标值,单位,限定词")
    assert any("61.86" in line for line in lines[1:])


def test_targets_xlsx_file(tmp_path):
    out = tmp_path / "ledger.xlsx"
    assert main(["targets", "--year", "2030", "-o", str(out)]) == 0
    rows = list(load_workbook(out).active.values)
    assert rows[0][:3] == ("行动", "任务", "指标")
    assert any(r[6] == "31%以上" for r in rows[1:])


def test_clauses_json(capsys):
    assert main(["clauses", "--json", "--kind", "event"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(events) == 24 and events[0]["date"] == "2024-04-02"


def test_missing_corpus_is_a_clear_error(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nope"), "targets"]) == 2
    assert "corpus folder not found" in capsys.readouterr().err


def test_xlsx_needs_an_output_file(capsys):
    assert main(["targets", "--format", "xlsx"]) == 2
    assert "-o" in capsys.readouterr().err


def test_empty_question_fails_before_loading_anything(capsys, monkeypatch):
    import assistant.answer

    monkeypatch.setattr(assistant.answer.Assistant, "from_settings", lambda *a, **k: 1 / 0)
    assert main(["ask", "  "]) == 2
    assert "empty" in capsys.readouterr().err
