"""Evaluation: answer accuracy, citation accuracy, abstention and retrieval hit@k, ours vs baselines.

`planqa eval` runs the gold questions (Settings.eval_questions: evals/questions.jsonl) through the assistant and through three
baselines that answer with their top retrieved chunk: BM25 alone, dense alone, and a plain llama-index
pipeline (SentenceSplitter defaults + VectorStoreIndex with the same embedding model). The report
(Markdown, JSON, PNG chart) goes to Settings.eval_reports (evals/reports/) unless -o says otherwise.

`planqa eval --set NAME` / `--all-sets` runs the eval sets of Settings.eval_sets (evals/sets.json) instead, each on its own
corpus (one assistant and one index per corpus), and reports accuracy per set and category, the share of
first citations in the right document and the abstention on regions no loaded plan covers.

The folder: scoring.py (is one answer right), baselines.py (the systems compared), sets.py (the eval-set
manifest), runs.py (asking and scoring question files), reports.py (tables, files, floors); this module is
the bulletin run with its baselines, whose answers of ours take the eval sets' path (runs.score_question).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.evaluation.baselines import SYSTEMS, retrievers
from assistant.evaluation.reports import write_reports
from assistant.evaluation.runs import answers, corpus_texts, load_questions, score_question
from assistant.evaluation.scoring import error_rates, first_rank, gold_spans, is_correct, percentile, share

if TYPE_CHECKING:
    from assistant.answer import Assistant


# what the report keeps of ours per question, beside the baselines (runs.score_question scores it)
OURS = ("got", "abstained", "should_abstain", "seconds", "correct", "direction_kept", "cites_gold", "verbatim", "citation")


def run_eval(
    assistant: Assistant,
    questions_path: Path | str,
    systems: Sequence[str] = SYSTEMS,
    report_dir: Path | str | None = None,
    retrieval_only: bool = False,
) -> dict:
    """Score every system on the gold questions; write the report into report_dir (if given); return the summary."""
    questions = load_questions(Path(questions_path))
    texts = corpus_texts(assistant)
    search = retrievers(assistant, systems, texts)
    answering = "ours" in systems and not retrieval_only
    if answering and questions:
        assistant.ask(questions[0]["question"])  # warm-up: latency is measured warm
    results = [compare(assistant, q, texts, search, answering) for q in questions]
    summary = summarise(results, systems, answering)
    summary["file"] = str(questions_path)
    if report_dir is not None:
        summary["reports"] = write_reports(summary, results, Path(report_dir))
    return summary


def compare(assistant: Assistant, q: dict, texts: dict[str, str], search: dict[str, Any], answering: bool) -> dict:
    """One question through every system: ours answers as in the eval sets; a baseline answers with its top chunk."""
    gold = gold_spans(q, texts)
    row: dict[str, Any] = {
        "id": q["id"],
        "category": q["category"],
        "question": q["question"],
        "expected": q["answer"],
        "gold_found": bool(gold),
        "systems": {},
    }
    for system, retrieve in search.items():
        out: dict[str, Any] = {}
        if system == "ours" and answering:  # first, so the query embedding is not already cached
            scored = score_question(assistant, q, texts)
            out.update({key: scored[key] for key in OURS})
        spans = retrieve(q["question"])
        out["rank"] = first_rank(spans, gold) if gold else None
        if system != "ours":
            text = spans[0].text if spans else ""
            out.update(got=text, abstained=False, correct=is_correct(q, text, False))
        row["systems"][system] = out
    return row


def summarise(results: list[dict], systems: Sequence[str], answering: bool) -> dict:
    answerable = [r for r in results if r["category"] != "unanswerable"]
    categories = sorted({r["category"] for r in results})
    summary: dict[str, Any] = {"questions": len(results), "load_average": os.getloadavg()[0], "systems": {}}
    for system in systems:
        rows = [r["systems"][system] for r in results]
        ranked = [r["systems"][system]["rank"] for r in answerable if r["gold_found"]]
        block: dict[str, Any] = {
            "retrieval": {
                "questions": len(ranked),
                "hit@1": share(sum(1 for x in ranked if x == 1), len(ranked)),
                "hit@5": share(sum(1 for x in ranked if x is not None and x <= 5), len(ranked)),
                "mrr": round(sum(1 / x for x in ranked if x) / len(ranked), 4) if ranked else None,
            }
        }
        if rows and "correct" in rows[0]:
            block["accuracy"] = share(sum(r["correct"] for r in rows), len(rows))
            block["answerable_accuracy"] = share(
                sum(r["systems"][system]["correct"] for r in answerable), len(answerable)
            )
            block["mean_answer_chars"] = round(statistics.fmean(len(r["got"]) for r in rows), 1)
            block["by_category"] = {
                c: share(
                    sum(r["systems"][system]["correct"] for r in results if r["category"] == c),
                    sum(1 for r in results if r["category"] == c),
                )
                for c in categories
            }
        summary["systems"][system] = block
    if answering:
        summary.update(ours_metrics(results))
    return summary


def ours_metrics(results: list[dict]) -> dict:
    ours = [(r, r["systems"]["ours"]) for r in results]
    answered = [(r, o) for r, o in ours if not o["abstained"]]
    cited = [o for r, o in answered if r["category"] != "unanswerable" and r["gold_found"]]
    abstained = [r for r, o in ours if o["abstained"]]
    unanswerable = [o for r, o in ours if r["category"] == "unanswerable"]
    seconds = [o["seconds"] for _, o in ours]
    directed = [(r, o) for r, o in ours if o.get("direction_kept") is not None]
    return {
        **error_rates([o for _, o in ours]),
        "answers": answers([{"id": r["id"], **o} for r, o in ours]),
        "accuracy": share(sum(o["correct"] for _, o in ours), len(ours)),
        "direction_kept": share(sum(o["direction_kept"] for _, o in directed), len(directed)),
        "direction_questions": len(directed),
        "direction_lost": [r["id"] for r, o in directed if not o["direction_kept"]],
        "citation_accuracy": share(sum(o["cites_gold"] for o in cited), len(cited)),
        "citation_questions": len(cited),
        "verbatim_citation_share": share(sum(o["verbatim"] for _, o in answered), len(answered)),
        "abstention": {
            "precision": share(sum(r["category"] == "unanswerable" for r in abstained), len(abstained)),
            "recall": share(sum(o["abstained"] for o in unanswerable), len(unanswerable)),
            "abstained": len(abstained),
            "unanswerable": len(unanswerable),
        },
        "latency_ms": {
            "p50": round(1000 * (percentile(seconds, 50) or 0), 1),
            "p95": round(1000 * (percentile(seconds, 95) or 0), 1),
            "mean": round(1000 * statistics.fmean(seconds), 1) if seconds else None,
        },
        "wrong": [
            {
                "id": r["id"],
                "category": r["category"],
                "question": r["question"],
                "expected": r["expected"],
                "got": o["got"],
                "citation": o["citation"],
            }
            for r, o in ours
            if not o["correct"]
        ],
    }
