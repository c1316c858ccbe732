"""Retrieval benchmark: quality, speed, size and memory of the index, and how it scales.

    python evals/bench_retrieval.py [--scale 20] [--json]

1. The bundled bulletin: hit@1/hit@5/MRR for bm25, dense, hybrid and a plain llama-index pipeline;
   index build time, size on disk, warm query latency p50/p95 per mode, peak RSS.
2. Scale: synthetic corpora of 1 … N bulletins (the real one with varied numbers and place names):
   build time, chunk count, size on disk and hybrid query latency at each size.
3. Flat vs HNSW (the `hnsw_threshold` setting forced to 0) on the largest corpus: recall@10 of
   HNSW against exact search, for the gold questions and for random query vectors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer import Assistant
from assistant.config import PROJECT_ROOT, load_settings
from assistant.evaluation.baselines import LlamaIndexBaseline
from assistant.evaluation.evaluate import run_eval
from assistant.evaluation.runs import load_questions
from assistant.evaluation.scoring import percentile
from assistant.facts.knowledge import Knowledge, build_knowledge, load_knowledge
from assistant.models import Document
from assistant.retrieval.embedding import embed_queries, load_embedder
from assistant.retrieval.index import build_index
from assistant.retrieval.retrieve import HybridRetriever
from assistant.retrieval.stores import make_dense_index

BULLETIN = PROJECT_ROOT / "corpus" / "hecheng-bulletin-2024-02.txt"
PLACE_CHARS = "东西南北青白金石桂枫松柳溪岭云湘沅辰麻新安平阳"
NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def folder_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 2)


def vary(text: str, rng: random.Random) -> str:
    """Another district's bulletin: other place name, other figures (years and list numbers kept)."""
    place = rng.choice(PLACE_CHARS) + rng.choice(PLACE_CHARS)

    def number(match: re.Match[str]) -> str:
        value = match.group()
        if re.fullmatch(r"(19|20)\d\d", value) or len(value) <= 1:
            return value
        scaled = float(value) * rng.uniform(0.5, 1.5)
        decimals = len(value.partition(".")[2])
        return f"{scaled:.{decimals}f}" if decimals else str(max(2, round(scaled)))

    return NUMBER.sub(number, text.replace("鹤城", place))


def synthetic_knowledge(n: int, seed: int = 0) -> Knowledge:
    original = BULLETIN.read_text("utf-8")
    rng = random.Random(seed)
    documents = []
    for i in range(n):
        text = original if i == 0 else vary(original, rng)
        name = f"bulletin-{i:03d}.txt"
        documents.append(Document(name, name, text, hashlib.sha256(text.encode()).hexdigest()))
    return build_knowledge(documents)


def open_index(knowledge: Knowledge, folder: Path, embedder: Any) -> tuple[HybridRetriever, float, float]:
    """Build the index into `folder`; return the retriever, build seconds and size on disk (MB)."""
    settings = load_settings(index_dir=folder)
    started = time.perf_counter()
    build = build_index(knowledge, settings, embedder)
    seconds = time.perf_counter() - started
    return HybridRetriever.open(knowledge, settings, embedder), seconds, folder_mb(build)


def query_latency(retriever: HybridRetriever, queries: list[str], mode: str) -> dict[str, float]:
    retriever._query_vector.cache_clear()  # warm model, but every query embedded afresh
    times = []
    for query in queries:
        started = time.perf_counter()
        retriever.search(query, k=5, mode=mode)
        times.append(time.perf_counter() - started)
    return {
        "p50_ms": round(1000 * percentile(times, 50), 2),
        "p95_ms": round(1000 * percentile(times, 95), 2),
    }


def bench_bulletin(embedder: Any, questions_path: Path, folder: Path) -> dict:
    knowledge = load_knowledge(BULLETIN.parent)
    retriever, build_seconds, size = open_index(knowledge, folder, embedder)
    assistant = Assistant(knowledge, retriever, load_settings(index_dir=folder))
    summary = run_eval(
        assistant,
        questions_path,
        ("bm25", "dense", "ours", "llama_index"),
        retrieval_only=True,
    )
    quality = {("hybrid" if s == "ours" else s): b["retrieval"] for s, b in summary["systems"].items()}
    queries = [q["question"] for q in load_questions(questions_path)]
    latency = {mode: query_latency(retriever, queries, mode) for mode in ("bm25", "dense", "hybrid")}
    started = time.perf_counter()
    llama = LlamaIndexBaseline({d.name: d.text for d in knowledge.documents}, embedder)
    llama_build = time.perf_counter() - started
    times = []
    for query in queries:
        started = time.perf_counter()
        llama.search(query)
        times.append(time.perf_counter() - started)
    latency["llama_index"] = {
        "p50_ms": round(1000 * percentile(times, 50), 2),
        "p95_ms": round(1000 * percentile(times, 95), 2),
    }
    return {
        "chunks": len(retriever.chunks),
        "llama_index_nodes": llama.nodes,
        "build_seconds": round(build_seconds, 2),
        "llama_index_build_seconds": round(llama_build, 2),
        "index_mb": size,
        "quality": quality,
        "latency": latency,
        "peak_rss_mb": peak_rss_mb(),
    }


def bench_scale(
    embedder: Any, sizes: list[int], queries: list[str], base: Path
) -> tuple[list[dict], np.ndarray]:
    rows, vectors = [], np.zeros((0, 0), np.float32)
    for n in sizes:
        knowledge = synthetic_knowledge(n)
        retriever, seconds, size = open_index(knowledge, base / f"scale-{n}", embedder)
        rows.append(
            {
                "bulletins": n,
                "chunks": len(retriever.chunks),
                "dense_index": type(retriever.dense).__name__,
                "build_seconds": round(seconds, 1),
                "index_mb": size,
                "hybrid": query_latency(retriever, queries, "hybrid"),
                "peak_rss_mb": peak_rss_mb(),
            }
        )
        print(f"  scale {n}: {rows[-1]}", file=sys.stderr)
        vectors = retriever.dense.reconstruct_n(0, retriever.dense.ntotal)
    return rows, vectors


def bench_hnsw(vectors: np.ndarray, question_vectors: np.ndarray, k: int = 10) -> dict:
    """Recall@k of HNSW against the exact flat index, both made by the store's own factory."""
    flat = make_dense_index(vectors, hnsw_threshold=len(vectors))
    started = time.perf_counter()
    hnsw = make_dense_index(vectors, hnsw_threshold=0)
    hnsw_build = time.perf_counter() - started
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((200, vectors.shape[1])).astype(np.float32)
    near = vectors[rng.choice(len(vectors), 200)] + 0.05 * noise  # queries near the data
    random_vectors = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    out: dict[str, Any] = {
        "type": type(hnsw).__name__,
        "vectors": len(vectors),
        "hnsw_build_seconds": round(hnsw_build, 2),
    }
    for name, queries in (("questions", question_vectors), ("near_chunks", near), ("random", random_vectors)):
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        _, exact = flat.search(queries, k)
        started = time.perf_counter()
        _, approx = hnsw.search(queries, k)
        hnsw_ms = 1000 * (time.perf_counter() - started) / len(queries)
        started = time.perf_counter()
        flat.search(queries, k)
        flat_ms = 1000 * (time.perf_counter() - started) / len(queries)
        recall = np.mean([len(set(a) & set(e)) / k for a, e in zip(approx, exact, strict=True)])
        out[name] = {
            "recall@10": round(float(recall), 4),
            "hnsw_ms": round(hnsw_ms, 3),
            "flat_ms": round(flat_ms, 3),
        }
    return out


def print_report(result: dict) -> None:
    real = result["bulletin"]
    print(f"\n== bundled bulletin: {real['chunks']} chunks (llama-index: {real['llama_index_nodes']} nodes)")
    print(
        f"index build {real['build_seconds']} s (llama-index {real['llama_index_build_seconds']} s), "
        f"{real['index_mb']} MB on disk, peak RSS {real['peak_rss_mb']} MB"
    )
    print(f"{'system':<12} {'hit@1':>7} {'hit@5':>7} {'MRR':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for system, q in real["quality"].items():
        lat = real["latency"][system]
        print(
            f"{system:<12} {q['hit@1']:>7.3f} {q['hit@5']:>7.3f} {q['mrr']:>7.3f} {lat['p50_ms']:>8} {lat['p95_ms']:>8}"
        )
    print(f"\n== scale (synthetic bulletins; largest run: {result['scale'][-1]['bulletins']})")
    print(
        f"{'bulletins':>9} {'chunks':>7} {'index':>15} {'build s':>8} {'MB':>7} {'p50 ms':>8} {'p95 ms':>8}"
    )
    for row in result["scale"]:
        h = row["hybrid"]
        print(
            f"{row['bulletins']:>9} {row['chunks']:>7} {row['dense_index']:>15} {row['build_seconds']:>8} "
            f"{row['index_mb']:>7} {h['p50_ms']:>8} {h['p95_ms']:>8}"
        )
    hnsw = result["hnsw"]
    print(f"\n== HNSW vs flat on {hnsw['vectors']} vectors (HNSW build {hnsw['hnsw_build_seconds']} s)")
    for name in ("questions", "near_chunks", "random"):
        r = hnsw[name]
        print(
            f"{name:<12} recall@10 {r['recall@10']:.3f}   HNSW {r['hnsw_ms']} ms/query, flat {r['flat_ms']} ms/query"
        )
    print(
        f"\npeak RSS {result['peak_rss_mb']} MB, hnsw_threshold = {load_settings().hnsw_threshold}, "
        f"load average {result['load_average']:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=int, default=20, help="largest synthetic corpus, in bulletins (issue: up to 100)"
    )
    parser.add_argument("--steps", help="comma-separated corpus sizes (default: 1, scale/4, scale)")
    parser.add_argument("--questions", type=Path, default=load_settings().eval_questions)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    sizes = sorted(
        {int(s) for s in args.steps.split(",")} if args.steps else {1, max(1, args.scale // 4), args.scale}
    )

    settings = load_settings()
    embedder = load_embedder(settings.model, settings.model_cache)
    queries = [q["question"] for q in load_questions(args.questions)]
    with tempfile.TemporaryDirectory(prefix="planqa-bench-") as tmp:
        base = Path(tmp)
        print("bench: bundled bulletin …", file=sys.stderr)
        result: dict[str, Any] = {"bulletin": bench_bulletin(embedder, args.questions, base / "real")}
        print(f"bench: scale {sizes} …", file=sys.stderr)
        result["scale"], vectors = bench_scale(embedder, sizes, queries[:100], base)
    result["hnsw"] = bench_hnsw(vectors, embed_queries(embedder, queries))
    result["peak_rss_mb"] = peak_rss_mb()
    result["load_average"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
