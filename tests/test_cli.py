import json

import pytest
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


def test_targets_filter_by_action_year_and_unit(capsys):
    assert main(["targets", "--action", "节能降碳", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all("节能降碳" in r["action"] for r in rows)
    assert main(["targets", "--action", "节能降碳", "--year", "2025", "--unit", "发改局", "--format", "json"]) == 0
    narrowed = json.loads(capsys.readouterr().out)
    assert 0 < len(narrowed) < len(rows)
    assert all(r["year"] == 2025 and "区发展和改革局" in [r["lead_unit"], *r["partner_units"]] for r in narrowed)


def test_bad_setting_names_the_variable_and_the_choices(monkeypatch, capsys):
    monkeypatch.setenv("PLANQA_FUSION", "best")
    assert main(["targets"]) == 2
    err = capsys.readouterr().err
    assert "PLANQA_FUSION" in err and "score, rrf" in err


def test_a_bug_is_an_internal_error_not_a_bad_question(monkeypatch, capsys):
    import assistant.answer

    class Buggy:
        def ask(self, question, history=None):
            return max([])  # ValueError, as a real bug on an unexpected corpus would raise

    monkeypatch.setattr(assistant.answer.Assistant, "from_settings", classmethod(lambda cls, *a, **k: Buggy()))
    assert main(["ask", "区长调研了什么？"]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "-v" in err and "Traceback" not in err
    assert main(["-v", "ask", "区长调研了什么？"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_serve_batch_and_eval_are_planqa_commands(capsys):
    for command in ("serve", "batch", "eval"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "usage: planqa " + command in capsys.readouterr().out
