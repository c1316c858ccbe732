"""Evaluation: answer accuracy, citation accuracy, abstention and retrieval hit@k, ours vs baselines.

`planqa eval` runs the gold questions (evals/questions.jsonl) through the assistant and through three
baselines that answer with their top retrieved chunk: BM25 alone, dense alone, and a plain llama-index
pipeline (SentenceSplitter defaults + VectorStoreIndex with the same embedding model). The report
(Markdown, JSON, PNG chart) goes to evals/reports/ unless -o says otherwise.

`planqa eval --set NAME` / `--all-sets` runs the eval sets of evals/sets.json instead, each on its own
corpus (one assistant and one index per corpus), and reports accuracy per set and category, the share of
first citations in the right document and the abstention on regions no loaded plan covers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.config import PROJECT_ROOT, Settings
from assistant.errors import InputFileError, SettingsError
from assistant.ingest.clean import chinese_numerals_to_digits, normalise_text
from assistant.models import DIRECTION_WORDS, Answerer

if TYPE_CHECKING:
    from assistant.answer import Assistant

log = logging.getLogger(__name__)

QUESTIONS = PROJECT_ROOT / "evals" / "questions.jsonl"
FLOOR = PROJECT_ROOT / "evals" / "floor.json"
REPORTS = PROJECT_ROOT / "evals" / "reports"
SETS = PROJECT_ROOT / "evals" / "sets.json"
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


def should_abstain(question: dict) -> bool:
    """Unanswerable in the loaded plans: the plan does not say it, or no loaded plan covers the region."""
    return bool(question.get("abstain")) or question["category"] in ("unanswerable", "uncovered_region")


def is_correct(question: dict, answer: str, abstained: bool) -> bool:
    """Right = abstains on an unanswerable question; otherwise answers with every gold string."""
    if should_abstain(question):
        return abstained
    if abstained:
        return False
    got = match_form(answer)
    if not all(match_form(s) in got for s in question["must_include"]):
        return False
    if not figures_in_own_words(question, answer):
        return False
    any_of = question.get("any_of") or []
    return not any_of or any(match_form(s) in got for s in any_of)


FIGURE_CATEGORIES = ("target", "aggregate", "conflict")  # answers that state figures: single, listed, compared
QUOTED = re.compile(r"[（(]原文[:：].*?[)）]|“[^”]*”|「[^」]*」")


def figures_in_own_words(question: dict, answer: str) -> bool:
    """A figure answer states the gold figures itself: a look-alike figure whose quoted original happens to
    hold the gold figure too ("完成老旧小区52个（原文：…24座公厕…）" for the 公厕 question) is wrong."""
    if question["category"] not in FIGURE_CATEGORIES:
        return True
    told = match_form(QUOTED.sub("", answer))
    return all(match_form(s) in told for s in question["must_include"] if re.search(r"\d", s))


def direction_kept(question: dict, answer: str, abstained: bool) -> bool | None:
    """An answered target (alone, in a list, or set against another) keeps the direction words its source states next to the gold figure
    (下降/提高/以上/力争 …), in the answer's own words, not only inside the quoted original.

    None when not measured: not a target, abstained, or the source states no direction by the figure.
    """
    if abstained or should_abstain(question) or question["category"] not in FIGURE_CATEGORIES:
        return None
    stated = stated_directions(question)
    if not stated:
        return None
    told = match_form(QUOTED.sub("", answer))
    return all(word in told for word in stated)


def stated_directions(question: dict) -> set[str]:
    """The direction words of the gold sentence within a few characters of a gold figure."""
    quotes = question.get("source_quote") or []
    figures = [match_form(f) for f in question["must_include"] if re.search(r"\d", f)]
    stated = set()
    for quote in [quotes] if isinstance(quotes, str) else quotes:
        text = match_form(quote)
        for figure in figures:
            for found in re.finditer(re.escape(figure), text):
                before = re.split(r"[,，;；。]", text[max(0, found.start() - 8) : found.start()])[-1]
                window = before + text[found.start() : found.end() + 2]  # the figure's own clause part
                stated |= {w for w in DIRECTION_WORDS if w in window}
    return stated


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

    from assistant.retrieval.embedding import embed_passages, embed_queries

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
                    direction_kept=direction_kept(q, text, abstained),
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
    directed = [(r, o) for r, o in ours if o.get("direction_kept") is not None]
    return {
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
            f"direction kept: {pct(summary.get('direction_kept'))} of {summary.get('direction_questions', 0)} answered targets "
            "whose source states a direction word by the figure",
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


# --- eval sets: several question files, each on its own corpus ----------------------------------------------
@dataclass(frozen=True)
class EvalSet:
    """One entry of evals/sets.json: questions, the corpus they are asked over, the CI floor."""

    name: str
    file: Path
    corpus: tuple[Path, ...]
    floor: dict[str, float] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()  # file names in the corpus folders that are not plans (a README)
    home: str = ""  # the askers' own plan (PLANQA_HOME_PLAN): the set's questions are written as its users


def load_manifest(path: Path | str = SETS) -> list[EvalSet]:
    """The eval sets; paths in the manifest are relative to the repository root (the manifest's parent's parent)."""
    path = Path(path)
    root = path.resolve().parent.parent
    try:
        entries = json.loads(path.read_text("utf-8"))["sets"]
        return [
            EvalSet(
                name=entry["name"],
                file=root / entry["file"],
                corpus=tuple(
                    root / c
                    for c in ([entry["corpus"]] if isinstance(entry["corpus"], str) else entry["corpus"])
                ),
                floor=dict(entry.get("floor") or {}),
                exclude=tuple(entry.get("exclude") or ()),
                home=entry.get("home") or "",
            )
            for entry in entries
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(
            path, f"清单无法读取 / unreadable eval-set manifest ({exc}); see evals/sets.json"
        ) from exc


def pick_sets(sets: list[EvalSet], names: Sequence[str]) -> list[EvalSet]:
    known = {s.name: s for s in sets}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SettingsError(
            f"未知的评测集 / unknown eval set: {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    return [known[n] for n in names]


def corpus_key(eval_set: EvalSet) -> str:
    """A folder name per distinct corpus, so sets over the same documents share one index."""
    identity = json.dumps([[str(c.resolve()) for c in eval_set.corpus], sorted(eval_set.exclude)])
    names = "+".join(c.resolve().name for c in eval_set.corpus)
    return f"{names}-{hashlib.sha1(identity.encode()).hexdigest()[:8]}"


def corpus_folder(eval_set: EvalSet, workdir: Path) -> Path:
    """The set's corpus as one folder: the folder itself, or a fresh folder of symlinks to the documents
    when the set combines several folders or leaves files out (Settings takes a single corpus_dir)."""
    missing = [c for c in eval_set.corpus if not c.is_dir()]
    if missing:
        raise SettingsError(
            f"评测集 {eval_set.name} 的语料目录不存在 / corpus folder not found: {missing[0]}"
        )
    if len(eval_set.corpus) == 1 and not eval_set.exclude:
        return eval_set.corpus[0]
    folder = workdir / "corpus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for source in eval_set.corpus:
        for path in sorted(source.iterdir()):
            if path.name in eval_set.exclude or not path.is_file():
                continue
            link = folder / path.name
            if link.exists():
                raise SettingsError(
                    f"评测集 {eval_set.name}: 两个目录都有 / two corpus folders both hold {path.name}"
                )
            link.symlink_to(path.resolve())
    return folder


def set_settings(eval_set: EvalSet, base: Settings, index_root: Path) -> Settings:
    """The base settings with the set's corpus and a per-corpus index folder under index_root."""
    workdir = index_root / corpus_key(eval_set)
    return replace(
        base, corpus_dir=corpus_folder(eval_set, workdir), index_dir=workdir / "index", home_plan=eval_set.home
    )


def cited_doc(citation: Cited) -> str:
    return Path(citation.doc).stem


def score_question(assistant: Any, q: dict, texts: dict[str, str]) -> dict:
    """Ask one set question (with its history, if any) and score the answer and its first citation."""
    quotes = q.get("source_quote") or []
    gold = [
        span for quote in ([quotes] if isinstance(quotes, str) else quotes) for span in locate(quote, texts)
    ]
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


def rate(rows: list[dict], key: str) -> float | None:
    """Share of rows where `key` is true, among rows where it was measured (not None)."""
    measured = [r[key] for r in rows if r[key] is not None]
    return share(sum(bool(v) for v in measured), len(measured))


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
        "wrong": [r for r in rows if not r["correct"]],
    }


def run_set(assistant: Any, eval_set: EvalSet) -> dict:
    questions = load_questions(eval_set.file)
    texts = {d.name: d.text for d in assistant.knowledge.documents}
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


def set_floor_problems(summaries: Sequence[dict], sets: Sequence[EvalSet]) -> list[str]:
    floors = {s.name: s.floor for s in sets}
    return [
        f"{summary['set']}: {problem}"
        for summary in summaries
        for problem in floor_problems(summary, floors.get(summary["set"], {}), "evals/sets.json")
    ]


SET_METRICS = (
    "accuracy",
    "citation_accuracy",
    "direction_kept",
    "first_citation_doc",
    "uncovered_abstention",
    "abstention_precision",
    "abstention_recall",
)


def set_tables(summaries: Sequence[dict]) -> list[str]:
    lines = ["| set | questions | " + " | ".join(SET_METRICS) + " |", "|---|---|" + "---|" * len(SET_METRICS)]
    for s in summaries:
        lines.append(
            f"| {s['set']} | {s['questions']} | " + " | ".join(pct(s[m]) for m in SET_METRICS) + " |"
        )
    for s in summaries:
        lines += ["", f"{s['set']} ({s['documents']} documents) by category:", ""]
        lines += [f"- {c}: {pct(v)}" for c, v in s["by_category"].items()]
        lines += [f"- form {f}: {pct(v)}" for f, v in s["by_form"].items()]
    return lines


def write_set_report(summaries: Sequence[dict], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"sets-{time.strftime('%Y%m%d-%H%M%S')}"
    Path(f"{stem}.json").write_text(json.dumps(list(summaries), ensure_ascii=False, indent=2), "utf-8")
    lines = ["# planqa eval sets", "", *set_tables(summaries)]
    for s in summaries:
        lines += ["", f"## Wrong answers in {s['set']} ({len(s['wrong'])})", ""]
        for w in s["wrong"]:
            cite = w["citation"]
            where = (
                f"{cite['doc']} {cite['section']} — 「{cite['quote'][:100]}」" if cite else "(no citation)"
            )
            lines += [
                f"- **{w['id']}** {w['question']}",
                f"  - expected: {w['expected']}",
                f"  - got: {w['got'][:300]}",
            ]
            lines += [f"  - first citation: {where}"]
    Path(f"{stem}.md").write_text("\n".join(lines) + "\n", "utf-8")
    return Path(f"{stem}.md")


# --- floor and command ------------------------------------------------------------------------------------
def check_floor(summary: dict, floor_path: Path = FLOOR) -> list[str]:
    """Metrics below the CI floor, as messages (empty = all at or above it)."""
    return floor_problems(summary, json.loads(Path(floor_path).read_text("utf-8")), str(floor_path))


def floor_problems(summary: dict, floor: dict[str, float], source: str) -> list[str]:
    problems = []
    for metric, minimum in floor.items():
        value = summary.get(metric)
        if value is None:
            problems.append(f"{metric}: not measured (floor {pct(minimum)})")
        elif value < minimum:
            problems.append(f"{metric} {pct(value)} is below the floor {pct(minimum)} in {source}")
    return problems
