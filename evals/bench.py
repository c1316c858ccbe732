"""Speed and size: our assistant against a plain llama-index pipeline, same corpus, same embedding model.

    python evals/bench.py [--rows 1000] [--json]

Each system runs in fresh subprocesses, so start-up and memory are measured as a user would see them:

1. build: load the model, then time building the index (ours: `build_index`; llama-index:
   SentenceSplitter defaults + VectorStoreIndex, persisted to disk), peak RSS.
2. run: cold start = from process start to the first answer (on the built index), then every question of
   evals/questions.jsonl once (latency p50/p95/p99; each query embedded afresh), accuracy with
   assistant.evaluation.evaluate.is_correct (llama-index answers with its top chunk, no LLM), and for ours a
   questionnaire of --rows rows (the eval questions repeated) through assistant.office.questionnaire.answer_questionnaire.
   Peak RSS is the run process's own maximum resident set.

Prints a table, with the goals (issue 16): first answer within 3 s of a cold start, p50 ≤ 8 ms and
p95 ≤ 15 ms per uncached question, 1,000 rows ≤ 4 s, peak RSS while answering ≤ 600 MB. Timings depend
on the machine's load: the 1-minute load average is printed with them. `--profile` adds where the time
of the uncached questions goes (cProfile, top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOALS = {"cold_start_s": 3.0, "p50_ms": 8.0, "p95_ms": 15.0, "batch_s": 4.0, "peak_rss_mb": 600.0}
WARM_UP = "碳达峰实施方案的总体要求是什么？"  # not an eval question: warms the model, caches nothing measured


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def resident_mb() -> dict[str, float]:
    """Now: private memory (RssAnon: tokenizer, ORT, BM25, jieba) and file pages (RssFile: the ONNX weights ORT
    maps, shared between workers and given back under memory pressure). Linux only; {} elsewhere."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {f"{key.lower()}_mb": round(int(fields[key].split()[0]) / 1024, 1) for key in ("RssAnon", "RssFile") if key in fields}


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 2)

    return {"p50_ms": at(50), "p95_ms": at(95), "p99_ms": at(99), "mean_ms": round(sum(ordered) / len(ordered), 2)}


def emit(record: dict) -> None:
    print("BENCH " + json.dumps(record, ensure_ascii=False), flush=True)


# ---------------------------------------------------------------- children (one system, one phase each)


def child_ours_build(index_dir: Path) -> None:
    from assistant.config import load_settings
    from assistant.facts.knowledge import load_knowledge
    from assistant.retrieval.embedding import load_embedder
    from assistant.retrieval.index import build_index, read_manifest

    settings = load_settings(index_dir=index_dir)
    embedder = load_embedder(settings.model, settings.model_cache)
    knowledge = load_knowledge(settings.corpus_dir)
    started = time.perf_counter()
    build = build_index(knowledge, settings, embedder)
    emit({"build_s": round(time.perf_counter() - started, 2), "chunks": read_manifest(build).chunk_count,
          "build_rss_mb": peak_rss_mb()})


def child_ours_run(index_dir: Path, rows: int) -> None:
    from assistant.answer import Assistant
    from assistant.config import load_settings

    assistant = Assistant.from_settings(load_settings(index_dir=index_dir, on_stale="error"))
    questions = _questions()
    first = assistant.ask(questions[0]["question"])
    emit({"first_answer_at": time.time(), "first": first.answer[:40]})
    assistant.retriever._query_vector.cache_clear()
    assistant.ask(WARM_UP)
    latencies, correct = [], 0
    profiler = _profiler()
    for q in questions:
        started = time.perf_counter()
        answer = profiler.runcall(assistant.ask, q["question"]) if profiler else assistant.ask(q["question"])
        latencies.append((time.perf_counter() - started) * 1000)
        correct += _is_correct(q, answer.answer, answer.abstained)
    if profiler:
        _print_profile(profiler)
    cached = []
    for q in questions:  # the same questions again: the query-vector cache answers the embedding
        started = time.perf_counter()
        assistant.ask(q["question"])
        cached.append((time.perf_counter() - started) * 1000)
    embedding = _embedding_only(assistant, questions)
    batch_s = _batch(assistant, questions, rows)
    emit({**percentiles(latencies), **embedding, "cached_p50_ms": percentiles(cached)["p50_ms"],
          "cached_p95_ms": percentiles(cached)["p95_ms"], "accuracy": round(correct / len(questions), 4),
          "questions": len(questions), "batch_s": batch_s, "rows": rows, "peak_rss_mb": peak_rss_mb(), **resident_mb()})


def _embedding_only(assistant: Any, questions: list[dict]) -> dict[str, float]:
    """The query embedding alone (tokenise + ONNX Runtime run + pooling), each question once: its share of a question."""
    from assistant.retrieval.embedding import embed_queries

    times = []
    for q in questions:
        started = time.perf_counter()
        embed_queries(assistant.retriever.embedder, [q["question"]])
        times.append((time.perf_counter() - started) * 1000)
    figures = percentiles(times)
    return {"embed_p50_ms": figures["p50_ms"], "embed_p95_ms": figures["p95_ms"]}


def _profiler() -> Any:
    if not os.environ.get("PLANQA_BENCH_PROFILE"):
        return None
    import cProfile

    return cProfile.Profile()


def _print_profile(profiler: Any) -> None:
    import io
    import pstats

    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue(), file=sys.stderr)


def _batch(assistant: Any, questions: list[dict], rows: int) -> float:
    from openpyxl import Workbook

    from assistant.office.questionnaire import answer_questionnaire

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "q.xlsx", Path(folder) / "a.xlsx"
        workbook = Workbook()
        workbook.active.append(["序号", "问题"])
        for n in range(rows):
            workbook.active.append([n + 1, questions[n % len(questions)]["question"]])
        workbook.save(source)
        assistant.retriever._query_vector.cache_clear()  # the first pass over the questions embeds afresh
        started = time.perf_counter()
        report = answer_questionnaire(assistant, source, target, progress=False)
        seconds = time.perf_counter() - started
        assert report.rows == rows and report.errors == 0, report.summary()
    return round(seconds, 2)


def _llama_setup():
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core.llms import MockLLM

    from assistant.config import load_settings
    from assistant.evaluation.baselines import llama_embedding
    from assistant.retrieval.embedding import load_embedder

    LlamaSettings.llm = MockLLM()  # no LLM: the answer is the top chunk
    settings = load_settings()
    embed_model = llama_embedding(load_embedder(settings.model, settings.model_cache))
    LlamaSettings.embed_model = embed_model
    return settings, embed_model


def child_llama_build(store_dir: Path) -> None:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    settings, embed_model = _llama_setup()
    documents = [Document(text=p.read_text("utf-8"), metadata={"file_name": p.name})
                 for p in sorted(settings.corpus_dir.glob("*.txt"))]
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(documents, embed_model=embed_model, transformations=[SentenceSplitter()])
    index.storage_context.persist(persist_dir=str(store_dir))
    emit({"build_s": round(time.perf_counter() - started, 2), "chunks": len(index.docstore.docs),
          "build_rss_mb": peak_rss_mb()})


def child_llama_run(store_dir: Path) -> None:
    from llama_index.core import StorageContext, load_index_from_storage

    _, embed_model = _llama_setup()
    index = load_index_from_storage(StorageContext.from_defaults(persist_dir=str(store_dir)), embed_model=embed_model)
    retriever = index.as_retriever(similarity_top_k=1)
    questions = _questions()
    first = retriever.retrieve(questions[0]["question"])[0].node.get_content()
    emit({"first_answer_at": time.time(), "first": first[:40]})
    retriever.retrieve(WARM_UP)
    latencies, correct = [], 0
    for q in questions:
        started = time.perf_counter()
        answer = retriever.retrieve(q["question"])[0].node.get_content()
        latencies.append((time.perf_counter() - started) * 1000)
        correct += _is_correct(q, answer, False)
    emit({**percentiles(latencies), "accuracy": round(correct / len(questions), 4), "questions": len(questions),
          "peak_rss_mb": peak_rss_mb(), **resident_mb()})


def _questions() -> list[dict]:
    lines = (ROOT / "evals" / "questions.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _is_correct(question: dict, answer: str, abstained: bool) -> bool:
    """assistant.evaluation.scoring's scorer; a plain must_include check if it is not there."""
    try:
        from assistant.evaluation.scoring import is_correct
    except ImportError:
        if question.get("category") == "unanswerable":
            return abstained
        return not abstained and all(s in answer for s in question.get("must_include", []))
    return is_correct(question, answer, abstained)


CHILDREN = {"ours-build": child_ours_build, "ours-run": child_ours_run,
            "llama-build": child_llama_build, "llama-run": child_llama_run}


# ---------------------------------------------------------------- the parent


def run_child(phase: str, folder: Path, rows: int, profile: bool = False) -> dict:
    """Run one phase in a fresh interpreter; cold_start_s = process start → first answer, seen from here."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}
    if profile and phase == "ours-run":
        env["PLANQA_BENCH_PROFILE"] = "1"
    started = time.time()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", phase, "--folder", str(folder), "--rows", str(rows)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{phase} failed:\n{proc.stderr[-3000:]}")
    if profile and phase == "ours-run":
        print(proc.stderr[-12000:], file=sys.stderr)
    result: dict = {}
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            result.update(json.loads(line[6:]))
    if "first_answer_at" in result:
        result["cold_start_s"] = round(result.pop("first_answer_at") - started, 2)
    return result


def run_bench(rows: int, profile: bool = False) -> dict:
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="planqa-bench-") as folder:
        for system in ("ours", "llama"):
            where = Path(folder) / system
            results[system] = {**run_child(f"{system}-build", where, rows),
                               **run_child(f"{system}-run", where, rows, profile)}
            print(f"  {system}: {results[system]}", file=sys.stderr)
    return {"load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(), "systems": results}


def table(result: dict) -> str:
    ours, llama = result["systems"]["ours"], result["systems"]["llama"]

    def verdict(key: str, value: float | None) -> str:
        if value is None or key not in GOALS:
            return ""
        return "✅" if value <= GOALS[key] else f"❌ +{value - GOALS[key]:,.1f}"

    rows = [
        ("cold start → first answer (s)", "cold_start_s", "≤ 3"),
        ("index build (s)", "build_s", ""),
        ("latency p50, uncached question (ms)", "p50_ms", "≤ 8"),
        ("latency p95, uncached question (ms)", "p95_ms", "≤ 15"),
        ("latency p99 (ms)", "p99_ms", ""),
        ("latency p50 / p95, repeated question (ms)", "cached", ""),
        ("query embedding alone, same questions, p50 / p95 (ms)", "embed", ""),
        (f"batch {ours.get('rows', 0):,} rows (s)", "batch_s", "≤ 4"),
        ("peak RSS while answering (MB)", "peak_rss_mb", "≤ 600"),
        ("of which private (RssAnon) / mapped files (RssFile) at the end (MB)", "resident", ""),
        ("peak RSS, build (MB)", "build_rss_mb", ""),
        ("chunks", "chunks", ""),
        (f"accuracy ({ours['questions']} questions)", "accuracy", ""),
    ]
    lines = ["| measure | goal | ours | | plain llama-index | |", "|---|---|---|---|---|---|"]
    for label, key, goal in rows:
        cells = []
        for system in (ours, llama):
            if key in ("cached", "embed", "resident"):
                cells += [_pair(system, key), ""]
                continue
            value = system.get(key)
            shown = "–" if value is None else (f"{value:.1%}" if key == "accuracy" else f"{value:,}")
            cells += [shown, verdict(key, value)]
        lines.append(f"| {label} | {goal} | " + " | ".join(cells) + " |")
    lines.append(f"\n{result['cpus']} CPUs, 1-minute load average {result['load_average']} at the end of the run.")
    return "\n".join(lines)


def _pair(system: dict, key: str) -> str:
    first, second = ("rssanon_mb", "rssfile_mb") if key == "resident" else (f"{key}_p50_ms", f"{key}_p95_ms")
    return f"{system[first]:,} / {system[second]:,}" if first in system and second in system else "–"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="questionnaire rows for the batch measure")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of ours on the uncached questions")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        function = CHILDREN[args.child]
        function(args.folder, args.rows) if args.child == "ours-run" else function(args.folder)
        return 0
    result = run_bench(args.rows, args.profile)
    print(table(result))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
