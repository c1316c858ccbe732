"""Asking and scoring: one question through an answerer, a question file over one corpus, the eval sets each over
their own corpus (one assistant per distinct corpus).

`score_question` is the one path every answer of ours takes, in `planqa eval` (the bulletin, beside the
baselines: evaluate.py) and in the eval sets alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.evaluation.scoring import (
    cited_doc,
    contains_any,
    direction_kept,
    error_rates,
    gold_spans,
    is_correct,
    is_verbatim,
    percentile,
    rate,
    share,
    should_abstain,
)
from assistant.evaluation.sets import EvalSet, corpus_key, set_settings
from assistant.models import Answerer

ANSWER = ("id", "got", "abstained", "correct", "citation")  # a question's answer in reports and --answers files


def load_questions(path: Path) -> list[dict]:
    lines = Path(path).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def ask(
    answerer: Answerer, question: str, history: Sequence[Sequence[str]] | None = None
) -> tuple[str, bool, list, float]:
    started = time.perf_counter()
    try:
        answer = (
            answerer.ask(question, history=[tuple(turn) for turn in history])
            if history
            else answerer.ask(question)
        )
        text, abstained, citations = answer.answer, answer.abstained, list(answer.citations)
    except Exception as exc:  # a crash is a wrong answer, not a lost run
        text, abstained, citations = f"ERROR: {type(exc).__name__}: {exc}", False, []
    return text, abstained, citations, time.perf_counter() - started


def score_question(assistant: Any, q: dict, texts: dict[str, str]) -> dict:
    """Ask one question (with its history, if any) and score the answer and its first citation."""
    gold = gold_spans(q, texts)
    text, abstained, citations, seconds = ask(assistant, q["question"], q.get("history"))
    docs = q.get("doc")
    docs = [docs] if isinstance(docs, str) else list(docs or [])
    return {
        "id": q["id"],
        "category": q["category"],
        "form": q.get("form"),
        "question": q["question"],
        "history": q.get("history"),
        "expected": q["answer"],
        "got": text,
        "abstained": abstained,
        "should_abstain": should_abstain(q),
        "correct": is_correct(q, text, abstained),
        "direction_kept": direction_kept(q, text, abstained),
        "cites_gold": contains_any(citations, gold) if gold else None,
        "verbatim": any(is_verbatim(c, texts) for c in citations),
        "first_doc_right": (cited_doc(citations[0]) in docs if citations else False) if docs else None,
        "citation": citations[0].to_dict() if citations else None,
        "seconds": round(seconds, 4),
    }


def summarise_set(name: str, rows: list[dict]) -> dict:
    answered = [r for r in rows if not r["abstained"]]
    answerable = [r for r in rows if not r["should_abstain"]]
    abstained = [r for r in rows if r["abstained"]]
    uncovered = [r for r in rows if r["category"] == "uncovered_region"]
    groups = {
        "category": sorted({r["category"] for r in rows}),
        "form": sorted({r["form"] for r in rows if r["form"]}),
    }
    return {
        "set": name,
        "questions": len(rows),
        "accuracy": rate(rows, "correct"),
        "by_category": {
            c: rate([r for r in rows if r["category"] == c], "correct") for c in groups["category"]
        },
        "by_form": {f: rate([r for r in rows if r["form"] == f], "correct") for f in groups["form"]},
        "citation_accuracy": rate([r for r in answered if not r["should_abstain"]], "cites_gold"),
        "direction_kept": rate(rows, "direction_kept"),
        "verbatim_citation_share": rate(answered, "verbatim"),
        "first_citation_doc": rate([r for r in answerable if not r["abstained"]], "first_doc_right"),
        "uncovered_abstention": share(sum(r["abstained"] for r in uncovered), len(uncovered)),
        "abstention_precision": share(sum(r["should_abstain"] for r in abstained), len(abstained)),
        "abstention_recall": rate([r for r in rows if r["should_abstain"]], "abstained"),
        "latency_ms_p50": round(1000 * (percentile([r["seconds"] for r in rows], 50) or 0), 1),
        **error_rates(rows),
        "wrong": [r for r in rows if not r["correct"]],
        "answers": answers(rows),
    }


def answers(rows: list[dict]) -> list[dict]:
    """Every scored row as its answer only: what two runs must agree on, question by question."""
    return [{key: row[key] for key in ANSWER} for row in rows]


def corpus_texts(assistant: Any) -> dict[str, str]:
    """The loaded documents' texts by file name: what gold quotes and citations are located in."""
    return {d.name: d.text for d in assistant.knowledge.documents}


def run_set(assistant: Any, eval_set: EvalSet) -> dict:
    questions = load_questions(eval_set.file)
    texts = corpus_texts(assistant)
    summary = summarise_set(eval_set.name, [score_question(assistant, q, texts) for q in questions])
    summary.update(file=str(eval_set.file), corpus=[str(c) for c in eval_set.corpus], documents=len(texts))
    return summary


def run_sets(
    sets: Sequence[EvalSet], base: Settings, index_root: Path | None = None, progress: bool = False
) -> list[dict]:
    """Each set over its own corpus; one assistant per distinct corpus, built or loaded once."""
    from assistant.answer import Assistant

    index_root = Path(index_root or Path(base.index_dir) / "sets")
    assistants: dict[str, Any] = {}
    summaries = []
    for eval_set in sets:
        key = f"{corpus_key(eval_set)}:{eval_set.home}"
        if key not in assistants:
            assistants[key] = Assistant.from_settings(
                set_settings(eval_set, base, index_root), progress=progress
            )
        summaries.append(run_set(assistants[key], eval_set))
    return summaries
