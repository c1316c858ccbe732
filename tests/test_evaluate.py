"""The evaluation scorer on tiny inputs, and one real run over a slice of the gold questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluation.evaluate import run_eval
from assistant.evaluation.reports import check_floor
from assistant.evaluation.scoring import (
    Span,
    contains,
    direction_kept,
    first_rank,
    is_correct,
    is_verbatim,
    locate,
    match_form,
    percentile,
)
from assistant.models import Citation
from tests.conftest import ROOT


def question(
    category: str = "target", must: list[str] | None = None, any_of: list[str] | None = None
) -> dict:
    q = {"id": "q", "question": "?", "category": category, "answer": "", "must_include": must or []}
    if any_of is not None:
        q["any_of"] = any_of
    return q


def test_match_form_folds_numerals_widths_and_spaces():
    assert match_form("百分之二十七以上") == "27%以上"
    assert match_form("到 ２０２５ 年，１６．２４ 万千瓦") == match_form("到2025年,16.24万千瓦")
    assert match_form("450m³/d") == "450m3/d"


def test_must_include_after_normalisation():
    q = question(must=["27%", "以上"])
    assert is_correct(q, "非化石能源消费比重提高到 ２７％ 以上。", abstained=False)
    assert is_correct(q, "提高到百分之二十七以上", abstained=False)
    assert not is_correct(q, "提高到27%", abstained=False)  # a qualifier missing is wrong


def test_any_of_needs_one_alternative():
    q = question(must=["209.7"], any_of=["千米", "公里"])
    assert is_correct(q, "209.7公里", abstained=False)
    assert is_correct(q, "209.7千米", abstained=False)
    assert not is_correct(q, "209.7", abstained=False)
    only_any = question(any_of=["4人", "四位"])
    assert is_correct(only_any, "聘任游飞等四位", abstained=False)


def test_abstention_rules():
    unanswerable = question("unanswerable")
    assert is_correct(unanswerable, "方案中未明确。", abstained=True)
    assert not is_correct(unanswerable, "27%以上", abstained=False)
    # An abstention on an answerable question is wrong even when the text happens to hold the figure.
    assert not is_correct(question(must=["27%"]), "方案中未明确27%。", abstained=True)


def test_citation_containment_and_verbatim():
    texts = {"a.txt": "前言。非化石能源消费比重提高到27%以上。后记。非化石能源消费比重提高到27%以上。"}
    gold = locate("非化石能源消费比重提高到27%以上", texts)
    assert [(d, s) for d, s, _ in gold] == [("a.txt", 3), ("a.txt", 24)]  # every occurrence counts
    covering = Citation("a.txt", "c1", "s", texts["a.txt"][2:21], 2, 21)
    partial = Citation("a.txt", "c1", "s", texts["a.txt"][5:21], 5, 21)
    other_doc = Citation("b.txt", "c1", "s", texts["a.txt"][2:21], 2, 21)
    assert contains(covering, gold)
    assert not contains(partial, gold)
    assert not contains(other_doc, gold)
    assert contains(Citation("a.txt", "c", "s", texts["a.txt"][20:], 20, len(texts["a.txt"])), gold)
    assert is_verbatim(covering, texts)
    assert not is_verbatim(Citation("a.txt", "c1", "s", "改写过的引文", 2, 21), texts)
    assert not is_verbatim(other_doc, texts)


def test_first_rank():
    gold = [("a.txt", 10, 20)]
    spans = [Span("a.txt", 0, 12, ""), Span("b.txt", 0, 99, ""), Span("a.txt", 5, 25, "")]
    assert first_rank(spans, gold) == 3
    assert first_rank(spans[:2], gold) is None


def test_percentile():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(map(float, range(101))), 95) == 95.0
    assert percentile([], 50) is None


def test_check_floor(tmp_path: Path):
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"accuracy": 0.7, "citation_accuracy": 0.9}))
    assert check_floor({"accuracy": 0.75, "citation_accuracy": 0.9}, floor) == []
    problems = check_floor({"accuracy": 0.65, "citation_accuracy": None}, floor)
    assert len(problems) == 2 and "below the floor" in problems[0]


def test_floor_file_is_valid():
    floor = json.loads((ROOT / "evals" / "floor.json").read_text("utf-8"))
    assert set(floor) == {"accuracy", "citation_accuracy"}
    assert all(0 < v < 1 for v in floor.values())


def test_run_eval_on_a_slice_of_the_real_set(assistant, tmp_path: Path):
    lines = (ROOT / "evals" / "questions.jsonl").read_text("utf-8").splitlines()
    by_category: dict[str, list[str]] = {}
    for line in lines:
        by_category.setdefault(json.loads(line)["category"], []).append(line)
    picked = [line for group in by_category.values() for line in group[:2]]  # every category, 16 questions
    path = tmp_path / "slice.jsonl"
    path.write_text("\n".join(picked) + "\n", "utf-8")

    summary = run_eval(assistant, path, systems=("ours", "bm25"), report_dir=tmp_path / "reports")

    assert summary["questions"] == len(picked)
    assert set(summary["systems"]) == {"ours", "bm25"}
    assert 0 <= summary["accuracy"] <= 1
    assert summary["verbatim_citation_share"] == 1.0  # quotes are slices of the file, always
    assert summary["systems"]["bm25"]["by_category"]["unanswerable"] == 0.0  # the baseline never abstains
    assert 0 < summary["systems"]["ours"]["retrieval"]["hit@5"] <= 1
    assert summary["latency_ms"]["p50"] > 0
    for kind in ("json", "markdown", "chart"):
        assert Path(summary["reports"][kind]).is_file()
    report = json.loads(Path(summary["reports"]["json"]).read_text("utf-8"))
    assert len(report["results"]) == len(picked)


# --- eval sets (evals/sets.json) ---------------------------------------------------------------------------
def test_uncovered_regions_and_abstain_rows_are_scored_as_abstentions():
    uncovered = question("uncovered_region")
    assert is_correct(uncovered, "方案中未明确。", abstained=True)
    assert not is_correct(uncovered, "上海市黄浦区下降13.5%以上", abstained=False)
    flagged = {**question(must=["27%"]), "abstain": True}
    assert is_correct(flagged, "方案中未明确。", abstained=True)


def write_manifest(tmp_path: Path, sets: list[dict]) -> Path:
    (tmp_path / "evals").mkdir(exist_ok=True)
    path = tmp_path / "evals" / "sets.json"
    path.write_text(json.dumps({"sets": sets}), "utf-8")
    return path


def test_eval_paths_are_settings_from_the_environment_and_the_command_line(tmp_path: Path, monkeypatch, capsys):
    from assistant.cli import main
    from assistant.config import load_settings

    manifest = write_manifest(tmp_path, [{"name": "one", "file": "evals/a.jsonl", "corpus": "corpus"}])
    monkeypatch.setenv("PLANQA_EVAL_SETS", str(manifest))
    monkeypatch.setenv("PLANQA_EVAL_FLOOR", str(tmp_path / "floor.json"))
    settings = load_settings()
    assert settings.eval_sets == manifest and settings.eval_floor == tmp_path / "floor.json"
    assert load_settings(eval_reports=tmp_path / "r").eval_reports == tmp_path / "r"
    # the manifest named by the variable is the one read: its set is known, main's are not
    assert main(["eval", "--set", "bulletin", "--index", str(tmp_path / "index")]) == 2
    assert "choose from one" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", "utf-8")
    assert main(["eval", "--all-sets", "--sets-file", str(broken), "--index", str(tmp_path / "index")]) == 2
    assert "broken.json" in capsys.readouterr().err  # the flag wins over PLANQA_EVAL_SETS


def test_manifest_paths_are_relative_to_the_repository(tmp_path: Path):
    from assistant.errors import InputFileError, SettingsError
    from assistant.evaluation.sets import load_manifest, pick_sets

    path = write_manifest(
        tmp_path,
        [
            {"name": "one", "file": "evals/a.jsonl", "corpus": "corpus", "floor": {"accuracy": 0.5}},
            {
                "name": "two",
                "file": "evals/a.jsonl",
                "corpus": ["corpus", "../dev"],
                "exclude": ["SOURCES.md"],
            },
        ],
    )
    one, two = load_manifest(path)
    assert one.file == tmp_path / "evals" / "a.jsonl" and one.corpus == (tmp_path / "corpus",)
    assert one.floor == {"accuracy": 0.5} and two.exclude == ("SOURCES.md",)
    assert two.corpus == (tmp_path / "corpus", tmp_path / ".." / "dev")
    assert pick_sets([one, two], ["two"]) == [two]
    with pytest.raises(SettingsError, match="three"):
        pick_sets([one, two], ["three"])
    path.write_text("{not json", "utf-8")
    with pytest.raises(InputFileError, match="manifest"):
        load_manifest(path)


def test_a_combined_corpus_is_a_folder_of_symlinks(tmp_path: Path):
    from assistant.config import Settings
    from assistant.errors import SettingsError
    from assistant.evaluation.sets import EvalSet, set_settings

    a, b = tmp_path / "a", tmp_path / "b"
    for folder, names in ((a, ["x.txt", "SOURCES.md"]), (b, ["y.txt"])):
        folder.mkdir()
        for name in names:
            (folder / name).write_text(f"{name} 的正文", "utf-8")
    base = Settings(corpus_dir=tmp_path / "unused", index_dir=tmp_path / "index")
    single = set_settings(EvalSet("s", tmp_path / "q.jsonl", (b,)), base, tmp_path / "index" / "sets")
    combined = set_settings(
        EvalSet("c", tmp_path / "q.jsonl", (a, b), exclude=("SOURCES.md",)), base, tmp_path / "index" / "sets"
    )
    assert single.corpus_dir == b  # one folder, nothing left out: used as it is
    assert sorted(p.name for p in combined.corpus_dir.iterdir()) == ["x.txt", "y.txt"]
    assert (combined.corpus_dir / "y.txt").resolve() == (b / "y.txt").resolve()
    assert combined.corpus_dir.is_relative_to(tmp_path / "index" / "sets")
    assert len({single.index_dir, combined.index_dir}) == 2  # one index per distinct corpus
    again = set_settings(
        EvalSet("c2", tmp_path / "other.jsonl", (a, b), exclude=("SOURCES.md",)),
        base,
        tmp_path / "index" / "sets",
    )
    assert again.index_dir == combined.index_dir  # the same corpus shares its index
    (b / "x.txt").write_text("同名文件", "utf-8")
    with pytest.raises(SettingsError, match="x.txt"):
        set_settings(EvalSet("c", tmp_path / "q.jsonl", (a, b)), base, tmp_path / "index" / "sets")


def test_run_set_scores_documents_history_and_uncovered_regions(assistant, tmp_path: Path):
    from assistant.evaluation.reports import set_floor_problems
    from assistant.evaluation.runs import run_set
    from assistant.evaluation.sets import EvalSet

    doc = "hecheng-bulletin-2024-02"
    rows = [
        {
            "id": "a",
            "question": "2030年非化石能源消费比重的目标是多少？",
            "category": "target",
            "doc": doc,
            "answer": "31%以上",
            "must_include": ["31%", "以上"],
            "source_quote": "非化石能源消费比重提高到31%以上",
        },
        {
            "id": "b",
            "question": "那2030年呢？",
            "category": "target",
            "form": "followup_elliptical",
            "history": [["到2025年非化石能源消费比重要达到多少？", ""]],
            "answer": "31%以上",
            "must_include": ["31%", "以上"],
            "source_quote": "非化石能源消费比重提高到31%以上",
        },
        {
            "id": "c",
            "question": "2030年非化石能源消费比重的目标是多少？",
            "category": "target",
            "doc": "另一个方案",
            "answer": "31%以上",
            "must_include": ["31%", "以上"],
            "source_quote": "",
        },
        {
            "id": "d",
            "question": "四川省碳达峰实施方案提出2025年非化石能源消费比重达到多少？",
            "category": "uncovered_region",
            "doc": None,
            "answer": "",
            "must_include": [],
            "source_quote": "",
            "abstain": True,
        },
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    summary = run_set(assistant, EvalSet("tiny", path, (ROOT / "corpus",), floor={"accuracy": 1.0}))

    by_id = {r["id"]: r for r in summary["wrong"]}
    assert summary["questions"] == 4 and "a" not in by_id
    assert "b" not in by_id  # the follow-up is answered in the context of its history
    assert summary["first_citation_doc"] == 0.5  # a cites its document; c names another one
    assert summary["by_form"] == {"followup_elliptical": 1.0}
    assert summary["citation_accuracy"] is not None and summary["verbatim_citation_share"] == 1.0
    assert summary["uncovered_abstention"] in (0.0, 1.0)
    problems = set_floor_problems(
        [summary], [EvalSet("tiny", path, (), floor={"accuracy": 1.0, "first_citation_doc": 0.4})]
    )
    assert (summary["accuracy"] == 1.0) == (problems == [])


def test_direction_kept_is_checked_in_the_answers_own_words():
    q = {"category": "target", "must_include": ["14.5%"], "source_quote": "单位GDP能耗较2020年下降14.5%,力争达到15%"}
    assert direction_kept(q, "单位GDP能耗较2020年下降14.5%（原文：单位GDP能耗较2020年下降14.5%）", False) is True
    # the word only inside the quoted original does not count: the answer itself dropped it
    assert direction_kept(q, "单位GDP能耗14.5% 较2020年（原文：单位GDP能耗较2020年下降14.5%）", False) is False
    assert direction_kept(q, "方案中未明确", True) is None
    assert direction_kept({**q, "source_quote": "建成绿色园区1家", "must_include": ["1家"]}, "1家", False) is None
    assert direction_kept({**q, "category": "responsible"}, "x", False) is None


def test_a_figure_only_inside_the_quoted_original_is_not_an_answer():
    question = {"category": "target", "must_include": ["24座"], "question": "公厕要改多少座？"}
    assert is_correct(question, "完成24座公厕升级改造（原文：完成24座公厕升级改造）。", False)
    assert not is_correct(question, "完成老旧小区52个（原文：完成52个老旧小区、24座公厕升级改造）。", False)
