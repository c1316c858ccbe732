"""The `planqa` commands: each takes the parsed options and the settings, calls the library, prints."""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.errors import InputFileError, OutputFileError, PlanqaError, QuestionError, SettingsError

if TYPE_CHECKING:  # the web service imports the audit database's driver: only when a command asks
    from assistant.web.service import AuditedAssistant

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
REPORT_FORMATS = ("docx", "pdf")
REPORT_NAME = "目标台账报告"


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
        with _writing(args.output):
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
    data = ledger_report(knowledge, rows, fmt)
    with _writing(output):
        write_atomic(output, data)
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


def _ask_each(args: argparse.Namespace, assistant: AuditedAssistant) -> int:
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
            with _writing(args.output):
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
def _audited(answerer, settings: Settings, channel: str) -> Iterator[AuditedAssistant]:
    """The answerer behind the one surface the web uses too (assistant/web/service.py), recording each
    answer in the audit database as the local user; written before exit."""
    from assistant.audit import AuditStore
    from assistant.web.service import AskService, ServedAssistant

    store = AuditStore.from_settings(settings)
    try:
        yield AskService(ServedAssistant.of(answerer), store).asker(_local_user(), channel)
    finally:
        store.close()


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A file the user named that the system will not let us write: theirs to fix (exit 2), not a bug."""
    try:
        yield
    except OSError as exc:
        raise OutputFileError(path, f"无法写入 / cannot write: {exc}") from exc


def _local_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (OSError, KeyError):  # no user name in this environment
        return "cli"


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.audit import question_rows
    from assistant.office.tables import render_rows

    fmt = args.format or (args.output.suffix.lstrip(".").lower() if args.output else "csv")
    if fmt not in ("csv", "xlsx"):
        raise SettingsError(f"不支持的格式 / unknown format {fmt!r}: use --format csv or xlsx")
    if fmt == "xlsx" and not args.output:
        raise SettingsError("xlsx 需要输出文件 / xlsx needs an output file: add -o FILE.xlsx")
    rows = _read_audit(settings, lambda engine: question_rows(engine, args.since, args.until))
    _deliver(args.output, render_rows(rows, fmt), f"{len(rows)} questions")
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.audit import eval_candidates, question_rows
    from assistant.office.tables import render_rows

    if args.to_eval:
        rows = _read_audit(settings, lambda engine: eval_candidates(engine, args.since))
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
        what = "eval-question candidates (fill in answer, must_include, source_quote and category)"
    else:
        asked = _read_audit(settings, lambda engine: question_rows(engine, args.since))
        rows = [row for row in asked if row["👍"] or row["👎"]]
        data, what = render_rows(rows, "csv"), "questions with feedback"
    _deliver(args.output, data, f"{len(rows)} {what}")
    if not rows:
        print("（没有符合条件的反馈 / no feedback matches）", file=sys.stderr)
    return 0


def _deliver(output: Path | None, data: bytes, counted: str) -> None:
    """To the file the user named (written whole or not at all), else to the terminal."""
    from assistant.office.sheets import write_atomic

    if not output:
        sys.stdout.write(data.decode("utf-8-sig"))
        return
    with _writing(output):
        write_atomic(output, data)
    print(f"wrote {counted} to {output}", file=sys.stderr)


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
    from assistant.web.app import serve

    serve(settings, args.host, args.port, args.workers)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.evaluation.evaluate import run_eval
    from assistant.evaluation.reports import check_floor, tables, write_answers

    settings = settings.with_overrides(
        eval_questions=args.file, eval_floor=args.floor, eval_sets=args.sets_file, eval_reports=args.output
    )
    if args.sets or args.all_sets:
        return cmd_eval_sets(args, settings)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    if (args.check_floor or args.answers) and (args.retrieval or "ours" not in systems):
        raise SettingsError("--check-floor/--answers 需要回答 / need the answers of 'ours': drop --retrieval, keep ours")
    summary = run_eval(
        _assistant(settings), settings.eval_questions, systems, settings.eval_reports, retrieval_only=args.retrieval
    )
    if args.answers:
        write_answers(args.answers, {Path(settings.eval_questions).stem: summary["answers"]})
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k not in ("wrong", "answers")}, ensure_ascii=False, indent=2))
    else:
        print("\n".join(tables(summary)))
        print(f"\nreport: {summary['reports'].get('markdown')}")
    if not args.check_floor:
        return 0
    problems = check_floor(summary, settings.eval_floor)
    for problem in problems:
        print(f"FLOOR FAILED: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"floor ok ({settings.eval_floor})", file=sys.stderr)
    return 0


def cmd_eval_sets(args: argparse.Namespace, settings: Settings) -> int:
    """--set / --all-sets: each set on its own corpus; floors from the manifest with --check-floor."""
    from assistant.evaluation.reports import set_floor_problems, set_tables, write_answers, write_set_report
    from assistant.evaluation.runs import run_sets
    from assistant.evaluation.sets import load_manifest, pick_sets

    manifest = load_manifest(settings.eval_sets)
    sets = manifest if args.all_sets else pick_sets(manifest, args.sets)
    summaries = run_sets(sets, settings, progress=True)
    report = write_set_report(summaries, settings.eval_reports)
    if args.answers:
        write_answers(args.answers, {s["set"]: s["answers"] for s in summaries})
    if args.json:
        print(json.dumps([{k: v for k, v in s.items() if k not in ("wrong", "answers")} for s in summaries],
                         ensure_ascii=False, indent=2))
    else:
        print("\n".join(set_tables(summaries)))
        print(f"\nreport: {report}")
    problems = set_floor_problems(summaries, sets) if args.check_floor else []
    for problem in problems:
        print(f"FLOOR FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0
