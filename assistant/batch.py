"""Batch questionnaires: a spreadsheet of questions in, the same spreadsheet with cited answers out.

Offices send questions as an xlsx or csv with a 问题 column. Every original row, column and cell is
kept in place (for xlsx the whole workbook: other sheets, title rows, formatting), and five columns
are added: 答案, 出处章节, 原文摘录, 置信度, 方案是否明确. A bad row gets an error message in its 答案
cell instead of stopping the run; each answered row is appended to a `.partial.jsonl` checkpoint
beside the output, so `resume=True` continues a run that was interrupted.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import INTERNAL_ERROR, InputFileError, PlanqaError
from .models import Answerer
from .tables import write_atomic

log = logging.getLogger(__name__)

ANSWER_COLUMNS = ("答案", "出处章节", "原文摘录", "置信度", "方案是否明确")
SUPPORTED_SUFFIXES = (".xlsx", ".csv")
# The header may sit below a title row ("鹤城区碳达峰问卷"): look for it this far down.
HEADER_SEARCH_ROWS = 20
ERROR_PREFIX = "错误 / error: "


@dataclass
class BatchReport:
    """What a run did, for the CLI's summary line and the API's response headers."""

    input_path: Path
    output_path: Path
    rows: int = 0
    answered: int = 0
    abstained: int = 0
    errors: int = 0
    resumed: int = 0  # rows taken from the checkpoint of an interrupted run
    seconds: float = 0.0
    error_rows: list[int] = field(default_factory=list)  # 1-based spreadsheet row numbers

    def summary(self) -> str:
        return (
            f"{self.rows} 行 / rows: {self.answered} answered ({self.abstained} 方案中未明确), "
            f"{self.errors} errors, {self.resumed} resumed, {self.seconds:.1f}s → {self.output_path}"
        )


@dataclass
class Table:
    """One sheet as a grid of cells; `header` is the index of the row holding the column names."""

    rows: list[list[object]]
    header: int
    question_col: int
    sheet_name: str | None = None

    @property
    def data_rows(self) -> range:
        return range(self.header + 1, len(self.rows))


def answer_questionnaire(
    assistant: Answerer,
    input_path: Path | str,
    output_path: Path | str,
    column: str = "问题",
    sheet: str | None = None,
    resume: bool = False,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> BatchReport:
    """Answer every question of `input_path` into `output_path`; see the module docstring."""
    input_path, output_path = Path(input_path), Path(output_path)
    _check_paths(input_path, output_path)
    table = read_table(input_path, column, sheet)
    report = BatchReport(input_path, output_path, rows=len(table.data_rows))
    started = time.monotonic()
    checkpoint = checkpoint_path(output_path)
    done = _load_checkpoint(checkpoint, table) if resume else {}
    report.resumed = len(done)
    if hasattr(assistant, "prefetch"):  # embed the questions together (assistant/retrieve.py, QueryVectors)
        assistant.prefetch([_text(_cell_at(table.rows[i], table.question_col)) for i in table.data_rows if i not in done])
    cells = _answer_rows(assistant, table, done, checkpoint, report, progress, on_progress)
    _tally(report, table, cells)
    write_answered(input_path, output_path, table, cells)
    checkpoint.unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    return report


def checkpoint_path(output_path: Path) -> Path:
    """The sidecar that makes a run resumable: one JSON line per answered row."""
    return output_path.with_name(output_path.name + ".partial.jsonl")


def _check_paths(input_path: Path, output_path: Path) -> None:
    """Refuse anything that could destroy the user's original file or produce an unreadable one."""
    if not input_path.is_file():
        raise InputFileError(input_path, f"找不到输入文件 / input file not found: {input_path}")
    for path in (input_path, output_path):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise InputFileError(path, f"不支持的文件类型 / unsupported file type {path.suffix or '(none)'!r}: use .xlsx or .csv")
    same = output_path.exists() and os.path.samefile(input_path, output_path)
    if same or input_path.resolve() == output_path.resolve():
        raise InputFileError(output_path, "输出文件不能覆盖输入文件 / the output must not overwrite the input file: choose another -o")


# ---------------------------------------------------------------- reading


def read_table(path: Path, column: str = "问题", sheet: str | None = None) -> Table:
    """Read the sheet and find the header row holding `column`; an InputFileError listing the columns when it is missing."""
    rows, sheet_name = (_read_csv(path), None) if path.suffix.lower() == ".csv" else _read_xlsx(path, sheet)
    rows = _trim_trailing_blank_rows(rows)
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = [_text(v) for v in row]
        if column in names:
            return Table(rows, index, names.index(column), sheet_name)
    # The widest of the top rows is the header the user meant (a title row has one cell).
    found = max(([_text(v) for v in r if _text(v)] for r in rows[:HEADER_SEARCH_ROWS]), key=len, default=[])
    raise InputFileError(
        path,
        f"找不到“{column}”列 / no column named {column!r}"
        f"{f' (sheet {sheet_name!r})' if sheet_name else ''}; columns found: {', '.join(found) or '(none: the sheet is empty)'}"
        " — pass --column NAME",
    )


def _read_csv(path: Path) -> list[list[object]]:
    """UTF-8 (with or without BOM) first, then GB18030, which is what Excel on a Chinese Windows saves."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputFileError(path, "无法读取 / cannot decode the text: save it as UTF-8 csv or xlsx")
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]


def _read_xlsx(path: Path, sheet: str | None) -> tuple[list[list[object]], str]:
    workbook = _open_workbook(path, data_only=True)
    worksheet = _pick_sheet(workbook, sheet, path)
    return [list(row) for row in worksheet.iter_rows(values_only=True)], worksheet.title


def _open_workbook(path: Path, data_only: bool):
    """openpyxl's own errors (BadZipFile, KeyError…) say nothing to a user: turn them into one message."""
    from openpyxl import load_workbook

    try:
        return load_workbook(path, data_only=data_only)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputFileError(path, f"无法读取 / cannot read it as an xlsx workbook ({type(exc).__name__}: {exc})") from exc


def _pick_sheet(workbook, sheet: str | None, path: Path):
    if sheet is None:
        return workbook.active
    if sheet not in workbook.sheetnames:
        raise InputFileError(path, f"找不到工作表 / no sheet {sheet!r}; sheets: {', '.join(workbook.sheetnames)}")
    return workbook[sheet]


def _trim_trailing_blank_rows(rows: list[list[object]]) -> list[list[object]]:
    """Formatted but empty rows at the bottom of a sheet are not questions."""
    end = len(rows)
    while end and not any(_text(v) for v in rows[end - 1]):
        end -= 1
    return rows[:end]


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


# ---------------------------------------------------------------- answering


def _answer_rows(
    assistant: Answerer,
    table: Table,
    done: dict[int, list[object]],
    checkpoint: Path,
    report: BatchReport,
    progress: bool,
    on_progress: Callable[[int, int], None] | None,
) -> dict[int, list[object]]:
    """Answer the rows not in `done`, appending each to the checkpoint as soon as it is answered."""
    from tqdm import tqdm

    cells = dict(done)
    total = len(table.data_rows)
    mode = "a" if done else "w"  # a fresh run must not inherit rows from an older, unrelated checkpoint
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with open(checkpoint, mode, encoding="utf-8") as sidecar, tqdm(
        total=total, initial=len(done), desc="批量问答", unit="题", disable=not progress, file=sys.stderr
    ) as bar:
        for index in table.data_rows:
            if index in cells:
                continue
            question = _text(_cell_at(table.rows[index], table.question_col))
            cells[index] = answer_cells(assistant, question)
            sidecar.write(json.dumps({"row": index, "question": question, "cells": cells[index]}, ensure_ascii=False) + "\n")
            sidecar.flush()
            bar.update(1)
            if on_progress:
                on_progress(len(cells), total)
    return cells


def answer_cells(assistant: Answerer, question: str) -> list[object]:
    """The five added cells for one question; a question the assistant rejects becomes an error cell."""
    if not question:
        return [ERROR_PREFIX + "问题为空 / the question cell is empty", "", "", "", ""]
    try:
        answer = assistant.ask(question)
    except PlanqaError as exc:  # empty, over-long or otherwise rejected question: the message says which
        return [ERROR_PREFIX + str(exc), "", "", "", ""]
    except Exception as exc:  # a bug, not the user's question; it must not cost the other rows
        log.exception("batch: internal error on question %r", question[:80])
        return [f"{ERROR_PREFIX}{INTERNAL_ERROR} ({type(exc).__name__})", "", "", "", ""]
    return [
        answer.answer,
        "\n".join(dict.fromkeys(c.section for c in answer.citations)),
        "\n".join(f"[{i}] {c.quote}" for i, c in enumerate(answer.citations, 1)),
        round(answer.confidence, 3),
        "否" if answer.abstained else "是",
    ]


def _cell_at(row: list[object], col: int) -> object:
    return row[col] if col < len(row) else None


def _load_checkpoint(checkpoint: Path, table: Table) -> dict[int, list[object]]:
    """Rows answered by an interrupted run; a row whose question changed since is answered again."""
    if not checkpoint.exists():
        return {}
    done: dict[int, list[object]] = {}
    for line in checkpoint.read_text("utf-8").splitlines():
        try:
            entry = json.loads(line)
            index, question, cells = int(entry["row"]), entry["question"], list(entry["cells"])
        except (ValueError, KeyError, TypeError):
            continue  # the line the crash cut short
        if index in table.data_rows and _text(_cell_at(table.rows[index], table.question_col)) == question:
            done[index] = cells
    return done


def _tally(report: BatchReport, table: Table, cells: dict[int, list[object]]) -> None:
    for index in table.data_rows:
        first = str(cells[index][0])
        if first.startswith(ERROR_PREFIX):
            report.errors += 1
            report.error_rows.append(index + 1)
        else:
            report.answered += 1
            report.abstained += cells[index][4] == "否"


# ---------------------------------------------------------------- writing


def _answer_column_positions(header: list[object]) -> list[int]:
    """Reuse columns already named 答案… (a re-run of an answered file), else append after the last one."""
    names = [_text(v) for v in header]
    positions, next_free = [], len(names)
    for name in ANSWER_COLUMNS:
        if name in names:
            positions.append(names.index(name))
        else:
            positions.append(next_free)
            next_free += 1
    return positions


def answered_grid(table: Table, cells: dict[int, list[object]]) -> list[list[object]]:
    """The original grid with the answer columns filled in: same rows, same order, same cells."""
    positions = _answer_column_positions(table.rows[table.header])
    width = max(max((len(r) for r in table.rows), default=0), max(positions) + 1)
    grid = [list(row) + [None] * (width - len(row)) for row in table.rows]
    for name, pos in zip(ANSWER_COLUMNS, positions, strict=True):
        grid[table.header][pos] = name
    for index, values in cells.items():
        for pos, value in zip(positions, values, strict=True):
            grid[index][pos] = value
    return grid


def write_answered(input_path: Path, output_path: Path, table: Table, cells: dict[int, list[object]]) -> None:
    """xlsx → xlsx edits the source workbook (keeping its other sheets and formatting); else a plain grid."""
    grid = answered_grid(table, cells)
    if output_path.suffix.lower() == ".csv":
        data = _csv_bytes(grid)
    elif input_path.suffix.lower() == ".xlsx":
        data = _xlsx_from_source(input_path, table, grid)
    else:
        data = _xlsx_bytes(grid, "问答")
    write_atomic(output_path, data)


def _csv_bytes(grid: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["" if v is None else v for v in row] for row in grid])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def _xlsx_from_source(input_path: Path, table: Table, grid: list[list[object]]) -> bytes:
    workbook = _open_workbook(input_path, data_only=False)  # keep the user's formulas as formulas
    worksheet = _pick_sheet(workbook, table.sheet_name, input_path)
    positions = _answer_column_positions(table.rows[table.header])
    for row_index in range(table.header, len(grid)):  # rows above the header (a title) stay untouched
        for pos in positions:
            _set_cell(worksheet.cell(row=row_index + 1, column=pos + 1), grid[row_index][pos])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_bytes(grid: list[list[object]], title: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = title
    for row_index, row in enumerate(grid, 1):
        for col_index, value in enumerate(row, 1):
            if value not in (None, ""):
                _set_cell(worksheet.cell(row=row_index, column=col_index), value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _set_cell(cell, value: object) -> None:
    """Text starting with "=" stays text: an answer or a csv cell must never become a formula."""
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
