"""Evaluation: answer accuracy, citation accuracy, abstention and retrieval hit@k, ours vs baselines.

`planqa eval` runs the gold questions (evals/questions.jsonl) through the assistant and through three
baselines that answer with their top retrieved chunk: BM25 alone, dense alone, and a plain llama-index
pipeline (SentenceSplitter defaults + VectorStoreIndex with the same embedding model). The report
(Markdown, JSON, PNG chart) goes to evals/reports/ unless -o says otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .clean import chinese_numerals_to_digits, normalise_text
from .config import PROJECT_ROOT
from .errors import SettingsError
from .models import Answerer

if TYPE_CHECKING:
    from .answer import Assistant

log = logging.getLogger(__name__)

QUESTIONS = PROJECT_ROOT / "evals" / "questions.jsonl"
FLOOR = PROJECT_ROOT / "evals" / "floor.json"
REPORTS = PROJECT_ROOT / "evals" / "reports"
SYSTEMS = ("ours", "bm25", "dense", "llama_index")
RETRIEVAL_MODE = {"ours": "hybrid", "bm25": "bm25", "dense": "dense", "llama_index": "llama_index"}
DEPTH = 10  # retrieved per question; MRR counts ranks up to here


class Cited(Protocol):
    doc: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class Span:
    """A retrieved passage located in a source document."""

    doc: str
    start: int
    end: int
    text: str


# --- scoring -------------------------------------------------------------------------------------------
def match_form(text: str) -> str:
    """Both sides of a comparison: widths folded, Chinese numerals as digits, no whitespace."""
    return "".join(normalise_text(chinese_numerals_to_digits(text)).split())


def is_correct(question: dict, answer: str, abstained: bool) -> bool:
    """Right = abstains on an unanswerable question; otherwise answers with every gold string."""
    if question["category"] == "unanswerable":
        return abstained
    if abstained:
        return False
    got = match_form(answer)
    if not all(match_form(s) in got for s in question["must_include"]):
        return False
    any_of = question.get("any_of") or []
    return not any_of or any(match_form(s) in got for s in any_of)


def locate(quote: str, texts: dict[str, str]) -> list[tuple[str, int, int]]:
    """Every occurrence of a verbatim quote in the corpus: (doc, start, end)."""
    found = []
    for doc, text in texts.items():
        start = text.find(quote) if quote else -1
        while start >= 0:
            found.append((doc, start, start + len(quote)))
            start = text.find(quote, start + 1)
    return found


def contains(span: Span | Cited, gold: Iterable[tuple[str, int, int]]) -> bool:
    return any(span.doc == doc and span.start <= start and end <= span.end for doc, start, end in gold)


def is_verbatim(citation: Cited, texts: dict[str, str]) -> bool:
    text = texts.get(citation.doc)
    return text is not None and citation.quote == text[citation.start : citation.end]


def first_rank(spans: Sequence[Span], gold: list[tuple[str, int, int]]) -> int | None:
    """1-based rank of the first retrieved span that contains the gold quote."""
    return next((rank for rank, span in enumerate(spans, 1) if contains(span, gold)), None)


def share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- the plain llama-index pipeline ----------------------------------------------------------------------
def llama_embedding(embedder: Any) -> Any:
    """The assistant's SentenceTransformer as a llama-index embedding (e5 query/passage prompts kept)."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    from .embedding import embed_passages, embed_queries

    class SentenceTransformerEmbedding(BaseEmbedding):
        _model: Any = PrivateAttr()

        def __init__(self, model: Any) -> None:
            super().__init__(model_name="planqa-embedder")
            self._model = model

        def _get_query_embedding(self, query: str) -> list[float]:
            return embed_queries(self._model, [query])[0].tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embed_passages(self._model, [text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embed_passages(self._model, texts).tolist()

    return SentenceTransformerEmbedding(embedder)


class LlamaIndexBaseline:
    """What a new user would write: default SentenceSplitter, VectorStoreIndex, top-k retrieve."""

    def __init__(self, texts: dict[str, str], embedder: Any, k: int = DEPTH):
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core import Settings as LlamaSettings
        from llama_index.core.llms import MockLLM
        from llama_index.core.node_parser import SentenceSplitter

        LlamaSettings.llm = MockLLM()  # nothing may call the network
        documents = [Document(text=text, metadata={"file_name": doc}) for doc, text in texts.items()]
        self.index = VectorStoreIndex.from_documents(
            documents, embed_model=llama_embedding(embedder), transformations=[SentenceSplitter()]
        )
        self.retriever = self.index.as_retriever(similarity_top_k=k)
        self.texts = texts
        self.nodes = len(self.index.docstore.docs)

    def search(self, query: str) -> list[Span]:
        spans = []
        for hit in self.retriever.retrieve(query):
            doc = hit.node.metadata["file_name"]
            text = hit.node.get_content()
            start = self.texts[doc].find(text)
            if start < 0:  # not verbatim (should not happen): fall back to the splitter's own offsets
                start = hit.node.start_char_idx or 0
            spans.append(Span(doc, start, start + len(text), text))
        return spans


# --- the run ---------------------------------------------------------------------------------------------
def load_questions(path: Path) -> list[dict]:
    lines = Path(path).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def retrievers(assistant: Assistant, systems: Sequence[str], texts: dict[str, str]) -> dict[str, Any]:
    """system → function(query) -> ranked spans."""

    def ours(mode: str):
        def search(query: str) -> list[Span]:
            hits = assistant.retriever.search(query, k=DEPTH, mode=mode)
            return [Span(h.chunk.doc, h.chunk.start, h.chunk.end, h.chunk.text) for h in hits]

        return search

    if "llama_index" in systems and importlib.util.find_spec("llama_index.core") is None:
        raise SettingsError("llama_index 基线需要安装 / the llama_index baseline needs: pip install 'planqa[eval]'")
    found: dict[str, Any] = {}
    for system in systems:
        if system == "llama_index":
            found[system] = LlamaIndexBaseline(texts, assistant.retriever.embedder).search
        elif system in RETRIEVAL_MODE:
            found[system] = ours(RETRIEVAL_MODE[system])
        else:
            raise SettingsError(f"未知系统 / unknown system {system!r}: choose from {', '.join(SYSTEMS)}")
    return found


def ask(answerer: Answerer, question: str) -> tuple[str, bool, list, float]:
    started = time.perf_counter()
    try:
        answer = answerer.ask(question)
        text, abstained, citations = answer.answer, answer.abstained, list(answer.citations)
    except Exception as exc:  # a crash is a wrong answer, not a lost run
        text, abstained, citations = f"ERROR: {type(exc).__name__}: {exc}", False, []
    return text, abstained, citations, time.perf_counter() - started


def run_eval(
    assistant: Assistant,
    questions_path: Path | str = QUESTIONS,
    systems: Sequence[str] = SYSTEMS,
    report_dir: Path | str | None = None,
    retrieval_only: bool = False,
    write_report: bool = True,
) -> dict:
    """Score every system on the gold questions; write the report; return the summary."""
    questions = load_questions(Path(questions_path))
    texts = {d.name: d.text for d in assistant.knowledge.documents}
    search = retrievers(assistant, systems, texts)
    answering = "ours" in systems and not retrieval_only
    if answering and questions:
        assistant.ask(questions[0]["question"])  # warm-up: latency is measured warm

    results = []
    for q in questions:
        gold = locate(q.get("source_quote") or "", texts)
        row: dict[str, Any] = {
            "id": q["id"],
            "category": q["category"],
            "question": q["question"],
            "expected": q["answer"],
            "gold_found": bool(gold),
            "systems": {},
        }
        for system in systems:
            out: dict[str, Any] = {}
            if system == "ours" and answering:  # first, so the query embedding is not already cached
                text, abstained, citations, seconds = ask(assistant, q["question"])
                out.update(
                    got=text,
                    abstained=abstained,
                    seconds=round(seconds, 4),
                    correct=is_correct(q, text, abstained),
                    cites_gold=contains_any(citations, gold) if gold else None,
                    verbatim=any(is_verbatim(c, texts) for c in citations),
                    citation=citations[0].to_dict() if citations else None,
                )
            spans = search[system](q["question"])
            out["rank"] = first_rank(spans, gold) if gold else None
            if system != "ours":
                text = spans[0].text if spans else ""
                out.update(got=text, abstained=False, correct=is_correct(q, text, False))
            row["systems"][system] = out
        results.append(row)

    summary = summarise(results, systems, answering)
    summary["file"] = str(questions_path)
    if write_report:
        summary["reports"] = write_reports(summary, results, Path(report_dir or REPORTS))
    return summary


def contains_any(citations: Sequence[Cited], gold: list[tuple[str, int, int]]) -> bool:
    return any(contains(c, gold) for c in citations)


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
    return {
        "accuracy": share(sum(o["correct"] for _, o in ours), len(ours)),
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


# --- reports ---------------------------------------------------------------------------------------------
def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def tables(summary: dict) -> list[str]:
    systems = list(summary["systems"])
    lines = []
    if "accuracy" in summary:
        ab = summary["abstention"]
        lat = summary["latency_ms"]
        lines += [
            f"questions: {summary['questions']}",
            f"accuracy (ours): {pct(summary['accuracy'])}",
            f"citation accuracy: {pct(summary['citation_accuracy'])} of {summary['citation_questions']} answered questions with a gold quote",
            f"verbatim citations: {pct(summary['verbatim_citation_share'])} of answered questions",
            f"abstention: precision {pct(ab['precision'])}, recall {pct(ab['recall'])} "
            f"({ab['abstained']} abstained, {ab['unanswerable']} unanswerable)",
            f"latency (warm): p50 {lat['p50']} ms, p95 {lat['p95']} ms (load average {summary['load_average']:.1f})",
            "",
        ]
    with_accuracy = [s for s in systems if "accuracy" in summary["systems"][s]]
    if with_accuracy:
        categories = list(summary["systems"][with_accuracy[0]]["by_category"])
        lines.append("| category | " + " | ".join(with_accuracy) + " |")
        lines.append("|---|" + "---|" * len(with_accuracy))
        for c in categories:
            lines.append(
                f"| {c} | "
                + " | ".join(pct(summary["systems"][s]["by_category"][c]) for s in with_accuracy)
                + " |"
            )
        for key in ("answerable_accuracy", "accuracy"):
            lines.append(
                f"| **{key}** | " + " | ".join(pct(summary["systems"][s][key]) for s in with_accuracy) + " |"
            )
        chars = " | ".join(str(summary["systems"][s]["mean_answer_chars"]) for s in with_accuracy)
        lines.append(f"| answer length (chars) | {chars} |")
        lines.append("")
    n = summary["systems"][systems[0]]["retrieval"]["questions"]
    lines.append(f"retrieval over {n} answerable questions with a gold quote (ours = hybrid):")
    lines.append("")
    lines.append("| system | hit@1 | hit@5 | MRR@10 |")
    lines.append("|---|---|---|---|")
    for s in systems:
        r = summary["systems"][s]["retrieval"]
        lines.append(f"| {s} | {pct(r['hit@1'])} | {pct(r['hit@5'])} | {r['mrr']} |")
    return lines


def write_reports(summary: dict, results: list[dict], folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"eval-{time.strftime('%Y%m%d-%H%M%S')}"
    paths = {"json": f"{stem}.json", "markdown": f"{stem}.md"}
    Path(paths["json"]).write_text(
        json.dumps({"summary": summary, "results": results}, ensure_ascii=False, indent=2), "utf-8"
    )
    if chart := write_chart(summary, Path(f"{stem}.png")):
        paths["chart"] = str(chart)
    lines = ["# planqa evaluation", "", f"{time.strftime('%Y-%m-%d %H:%M')} · {summary.get('file', '')}", ""]
    lines += tables(summary)
    if "chart" in paths:
        lines += ["", f"![accuracy per category]({Path(paths['chart']).name})"]
    if "wrong" in summary:
        lines += ["", f"## Wrong answers of ours ({len(summary['wrong'])})", ""]
        for w in summary["wrong"]:
            cite = w["citation"]
            where = f"{cite['section']} — 「{cite['quote'][:120]}」" if cite else "(no citation)"
            lines += [
                f"### {w['id']} ({w['category']})",
                f"- question: {w['question']}",
                f"- expected: {w['expected']}",
                f"- got: {w['got'][:400]}",
                f"- first citation: {where}",
                "",
            ]
    Path(paths["markdown"]).write_text("\n".join(lines) + "\n", "utf-8")
    return paths


def write_chart(summary: dict, path: Path) -> Path | None:
    systems = [s for s in summary["systems"] if "by_category" in summary["systems"][s]]
    if not systems:
        return None
    try:
        import matplotlib  # the `eval` extra: no default path (build, ask, serve, batch) needs it
    except ImportError:
        log.warning("no chart: matplotlib is missing (pip install 'planqa[eval]')")
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = list(summary["systems"][systems[0]]["by_category"]) + ["overall"]
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for n, system in enumerate(systems):
        block = summary["systems"][system]
        values = [100 * (block["by_category"][c] or 0) for c in categories[:-1]] + [
            100 * (block["accuracy"] or 0)
        ]
        ax.bar([i + n * width for i in range(len(categories))], values, width, label=system)
    ax.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(categories))], categories)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"planqa: answer accuracy per category ({summary['questions']} questions)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- floor and command ------------------------------------------------------------------------------------
def check_floor(summary: dict, floor_path: Path = FLOOR) -> list[str]:
    """Metrics below the CI floor, as messages (empty = all at or above it)."""
    floor = json.loads(Path(floor_path).read_text("utf-8"))
    problems = []
    for metric, minimum in floor.items():
        value = summary.get(metric)
        if value is None:
            problems.append(f"{metric}: not measured (floor {pct(minimum)})")
        elif value < minimum:
            problems.append(f"{metric} {pct(value)} is below the floor {pct(minimum)} in {floor_path}")
    return problems
