"""The `planqa` command: a thin layer over the library; every command is a Python call too."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .config import Settings, load_settings

log = logging.getLogger("planqa")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings(corpus_dir=args.corpus, index_dir=getattr(args, "index", None), model=getattr(args, "model", None))
        return args.handler(args, settings) or 0
    except (ValueError, FileNotFoundError) as exc:
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
    return parser


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


if __name__ == "__main__":
    sys.exit(main())
