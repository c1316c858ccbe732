"""The `planqa` command: `main` runs one subcommand and maps its errors to exit codes.

The options are in assistant/cli/parser.py, the commands (each a thin layer over a library call) in
assistant/cli/commands.py.

Errors: a `PlanqaError` (something the user or operator can fix) prints its message and exits 2;
anything else is a bug: a short internal-error line, the traceback under -v, exit 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from assistant.cli.commands import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR
from assistant.cli.parser import build_parser
from assistant.config import Settings, load_settings
from assistant.errors import INTERNAL_ERROR, PlanqaError

log = logging.getLogger("planqa")


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
