"""The evaluation scorer on tiny inputs, and one real run over a slice of the gold questions."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.evaluate import (
    Span,
    check_floor,
    contains,
    first_rank,
    is_correct,
    is_verbatim,
    locate,
    match_form,
    percentile,
    run_eval,
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
