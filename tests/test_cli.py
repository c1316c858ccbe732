import json
import logging
import os
from pathlib import Path

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
    workbook = load_workbook(out)
    rows = list(workbook.active.values)
    assert workbook.sheetnames == ["目标台账", "图表"] and rows[0][:3] == ("行动", "任务", "指标")
    statement, value, unit = (rows[0].index(name) for name in ("表述", "目标值", "单位"))
    assert any(r[statement] == "提高到31%以上" and r[value] == 31 and r[unit] == "%" for r in rows[1:])


def test_clauses_json(capsys):
    assert main(["clauses", "--json", "--kind", "event"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(events) == 24 and events[0]["date"] == "2024-04-02"


def test_missing_corpus_is_a_clear_error(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nope"), "targets"]) == 2
    assert "corpus folder not found" in capsys.readouterr().err
    from assistant.errors import InputFileError
    from assistant.ingest.load import load_corpus

    with pytest.raises(InputFileError, match="corpus folder not found"):  # one of the family, not a FileNotFoundError
        load_corpus(tmp_path / "nope")


def test_an_output_the_system_refuses_is_the_users_to_fix(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    output = tmp_path / "a-file" / "ledger.csv"  # a file where a folder should be
    assert main(["targets", "--format", "csv", "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and str(output) in err and "internal error" not in err


def test_an_unexpected_os_error_is_an_internal_error(monkeypatch, capsys):
    import assistant.facts.knowledge

    def broken(_corpus):
        raise OSError("something no user asked for")

    monkeypatch.setattr(assistant.facts.knowledge, "load_knowledge", broken)
    assert main(["targets"]) == 1
    assert "internal error" in capsys.readouterr().err


def test_pdf_without_libreoffice_is_a_conversion_error(tmp_path, monkeypatch, capsys):
    import assistant.office.report
    from assistant.errors import ConversionError, SettingsError

    monkeypatch.setattr(assistant.office.report.shutil, "which", lambda _name: None)
    assert main(["report", "-o", str(tmp_path / "report.pdf")]) == 2
    assert "PDF needs LibreOffice" in capsys.readouterr().err
    with pytest.raises(ConversionError) as raised:
        assistant.office.report.docx_to_pdf(b"")
    assert not isinstance(raised.value, SettingsError)  # a missing converter is not a bad setting


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


DEFAULT_PATHS = """
import sys
from assistant.cli import main
from assistant.web.app import build_app
from assistant.web.service import ServedAssistant
from assistant.answer import Assistant
from assistant.config import load_settings
assert main(["ask", "老旧小区改造谁牵头？"]) == 0
assert main(["targets", "--year", "2030"]) == 0
assert main(["batch", sys.argv[1], "-o", sys.argv[2], "--no-progress"]) == 0
build_app(load_settings(), ServedAssistant.of(Assistant.from_settings(load_settings())))
heavy = [m for m in ("matplotlib", "llama_index") if m in sys.modules]
print("HEAVY", heavy)
"""


def test_default_paths_import_neither_matplotlib_nor_llama_index(assistant, settings, tmp_path):
    """They are the `eval` extra's: ask, targets, batch and the page must work without them."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    questions = tmp_path / "q.csv"
    questions.write_text("问题\n老旧小区改造谁牵头？\n", "utf-8")
    env = {**os.environ, "PLANQA_INDEX": str(settings.index_dir), "PLANQA_CORPUS": str(settings.corpus_dir),
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", DEFAULT_PATHS, str(questions), str(tmp_path / "a.csv")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HEAVY []" in done.stdout


def test_targets_filtered_by_plan(capsys):
    assert main(["targets", "--plan", "鹤城", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["plan"] for r in rows} == {"怀化市鹤城区碳达峰实施方案"}
    assert main(["targets", "--plan", "某个没有载入的方案", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_global_options_after_the_command(tmp_path, capsys):
    from assistant.cli import build_parser

    args = build_parser().parse_args(["build", "--corpus", "corpus/", "--index", str(tmp_path)])
    assert (args.corpus, args.index) == (Path("corpus/"), tmp_path)
    args = build_parser().parse_args(["--corpus", "c1", "--index", "i1", "ask", "问题", "-v"])
    assert (args.corpus, args.index, args.verbose) == (Path("c1"), Path("i1"), True)
    assert build_parser().parse_args(["targets"]).corpus is None
    assert main(["targets", "--corpus", str(tmp_path / "nope")]) == 2
    assert "corpus folder not found" in capsys.readouterr().err


def test_targets_table_fits_a_100_column_terminal(capsys, monkeypatch):
    from assistant.office.styling import text_width

    monkeypatch.setenv("COLUMNS", "100")
    assert main(["targets", "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 10 and max(text_width(line) for line in lines) <= 100
    assert lines[0].split() == ["行动", "指标", "表述", "年份", "牵头单位"]


def test_library_noise_is_silenced_unless_verbose(monkeypatch, capsys):
    from transformers.utils import logging as transformers_logging

    from assistant.cli import quiet_libraries

    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY", "TRANSFORMERS_NO_ADVISORY_WARNINGS"):
        monkeypatch.delenv(name, raising=False)  # restored afterwards, so other tests see the usual environment
    _enable_progress_bars(transformers_logging)
    try:
        quiet_libraries()
        for _ in transformers_logging.tqdm(range(3), desc="Loading weights"):
            pass
        assert "Loading weights" not in capsys.readouterr().err
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    finally:
        _enable_progress_bars(transformers_logging)
        transformers_logging.set_verbosity_warning()
        logging.getLogger("transformers").setLevel(logging.WARNING)


def _enable_progress_bars(transformers_logging) -> None:
    """huggingface_hub warns that an earlier main() left its variable set; the bar is enabled all the same."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transformers_logging.enable_progress_bar()


def test_index_lives_beside_a_corpus_folder_else_in_the_user_data_folder(tmp_path, monkeypatch):
    from assistant.config import PROJECT_ROOT, load_settings

    for name in ("PLANQA_INDEX", "PLANQA_CORPUS"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project"
    (project / "corpus").mkdir(parents=True)
    monkeypatch.chdir(project)
    settings = load_settings()
    assert (settings.corpus_dir, settings.index_dir) == (project / "corpus", project / "index")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.index_dir == tmp_path / "data" / "planqa" / "index"
    assert not settings.index_dir.is_relative_to(PROJECT_ROOT)  # never inside the installed package

    monkeypatch.setenv("PLANQA_INDEX", str(tmp_path / "shared"))
    assert load_settings().index_dir == tmp_path / "shared"
    assert load_settings(index_dir=tmp_path / "flag").index_dir == tmp_path / "flag"


def test_help_says_where_the_corpus_and_index_are(tmp_path, monkeypatch, capsys):
    for name in ("PLANQA_INDEX", "PLANQA_CORPUS"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and f"corpus  {tmp_path / 'corpus'}" in out and f"index   {tmp_path / 'index'}" in out
    monkeypatch.setenv("PLANQA_INDEX", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PLANQA_FUSION", "best")  # a bad setting must not hide the help
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    assert f"(now:{tmp_path / 'elsewhere'})" in "".join(capsys.readouterr().out.split())  # argparse wraps lines


SMALL_PLAN = """某县节能降碳行动方案
一、主要目标
到2025年，全县单位地区生产总值能耗较2020年下降10%。
二、重点任务
（一）建筑节能行动
1. 推进建筑节能。到2025年，城镇新建建筑节能标准执行率达到100%。（牵头单位：县住房和城乡建设局）
2. 推广绿色建材。到2025年，绿色建材应用比例达到40%以上。
"""


@pytest.fixture(scope="module")
def model_dir():
    """The embedding model (converted once, cached): `planqa build` loads it."""
    from assistant.config import load_settings
    from assistant.retrieval.embedding import resolve_model_path

    settings = load_settings()
    return resolve_model_path(settings.model, settings.model_cache)


def test_build_reports_documents_read_and_chunks_embedded_unless_quiet(model_dir, tmp_path, capsys):
    from assistant.retrieval.index import current_build, read_manifest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(SMALL_PLAN, "utf-8")
    (corpus / "b.txt").write_text(SMALL_PLAN.replace("某县", "另一县"), "utf-8")
    options = ["--corpus", str(corpus), "--index", str(tmp_path / "index")]
    assert main(["build", *options]) == 0
    chunks = read_manifest(current_build(tmp_path / "index")).chunk_count
    err = capsys.readouterr().err
    assert "read 2 documents" in err and f"{chunks}/{chunks}" in err and "embedding chunks" in err
    assert f"built {chunks} chunks" in err
    assert main(["build", *options, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
