"""Batch questionnaires: a spreadsheet of questions in, the same spreadsheet with cited answers out.

Offices send questions as an xlsx or csv with a 问题 column. Every original row, column and cell is
kept in place (for xlsx the whole workbook: other sheets, title rows, formatting), and five columns
are added: 答案, 出处章节, 原文摘录, 置信度, 方案是否明确. A row that is no question (blank, a formula, a
合计 line, a 填表说明 footer, a section header) is left as it is and marked 跳过 / skipped with the
reason; a bad question gets an error message in its 答案 cell instead of stopping the run; each answered row is appended to a `.partial.jsonl` checkpoint
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import INTERNAL_ERROR, InputFileError, PlanqaError
from assistant.facts.knowledge import Knowledge, KnowledgeAnswerer
from assistant.models import Answerer
from assistant.office.layout import classify_row, own_answer_column
from assistant.office.safe_text import csv_value, set_xlsx_cell
from assistant.office.sheets import (
    MAX_ROWS,
    Table,
    cell_text,
    open_workbook,
    pick_sheet,
    read_table,
    trim_trailing_blank_cells,
    write_atomic,
)

log = logging.getLogger(__name__)

ANSWER_COLUMNS = ("答案", "出处章节", "原文摘录", "置信度", "方案是否明确")
SUPPORTED_SUFFIXES = (".xlsx", ".xls", ".csv")
# An old .xls is read (xlrd) but cannot be written: its answered copy is an .xlsx beside the asked name.
XLS_NOTE = "原问卷为旧版 Excel（.xls），答卷另存为 .xlsx / the .xls questionnaire is answered as .xlsx"
ERROR_PREFIX = "错误 / error: "
SKIP_PREFIX = "跳过 / skipped: "


@dataclass
class BatchReport:
    """What a run did, for the CLI's summary line and the API's response headers."""

    input_path: Path
    output_path: Path
    rows: int = 0
    answered: int = 0
    abstained: int = 0
    errors: int = 0
    skipped: int = 0  # rows that hold no question (blank, formula, totals, instructions, section header)
    resumed: int = 0  # rows taken from the checkpoint of an interrupted run
    seconds: float = 0.0
    error_rows: list[int] = field(default_factory=list)  # 1-based spreadsheet row numbers
    skipped_rows: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.rows} 行 / rows: {self.answered} answered ({self.abstained} 方案中未明确), "
            f"{self.skipped} skipped, {self.errors} errors, {self.resumed} resumed, {self.seconds:.1f}s → {self.output_path}"
        )



def answer_questionnaire(
    assistant: KnowledgeAnswerer,
    input_path: Path | str,
    output_path: Path | str,
    column: str = "问题",
    sheet: str | None = None,
    resume: bool = False,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    max_rows: int | None = MAX_ROWS,
) -> BatchReport:
    """Answer every question of `input_path` into `output_path`; see the module docstring."""
    input_path, output_path = Path(input_path), Path(output_path)
    check_paths(input_path, output_path)
    output_path = answered_path(output_path)
    check_paths(input_path, output_path)
    table = read_table(input_path, column, sheet, max_rows)
    report = BatchReport(input_path, output_path, rows=len(table.data_rows))
    started = time.monotonic()
    checkpoint = checkpoint_path(output_path)
    done = _load_checkpoint(checkpoint, table) if resume else {}
    report.resumed = len(done)
    # embed the questions together (assistant/retrieval/retrieve.py, QueryVectors)
    assistant.prefetch([cell_text(_cell_at(table.rows[i], table.question_col)) for i in table.data_rows if i not in done])
    cells = _answer_rows(assistant, table, done, checkpoint, report, progress, on_progress)
    _tally(report, table, cells)
    write_answered(input_path, output_path, table, cells, sources=plan_sources(assistant.knowledge))
    checkpoint.unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    return report


def answered_path(output_path: Path) -> Path:
    """Where the answered copy goes: an .xls name becomes .xlsx (the old format can be read, not written)."""
    return output_path.with_suffix(".xlsx") if output_path.suffix.lower() == ".xls" else output_path


def checkpoint_path(output_path: Path) -> Path:
    """The sidecar that makes a run resumable: one JSON line per answered row."""
    return output_path.with_name(output_path.name + ".partial.jsonl")


def check_paths(input_path: Path, output_path: Path) -> None:
    """Refuse anything that could destroy the user's original file or produce an unreadable one, or
    that could only fail once every row is answered (the CLI calls this before loading the index)."""
    if not input_path.is_file():
        raise InputFileError(input_path, f"找不到输入文件 / input file not found: {input_path}")
    if output_path.is_dir():
        raise InputFileError(output_path, "-o 是一个文件夹 / -o names a folder: give the answered file's name, "
                             f"e.g. {output_path / ('answered' + input_path.suffix.lower())}")
    if not output_path.parent.is_dir():
        raise InputFileError(output_path, f"输出文件夹不存在 / the output folder does not exist: {output_path.parent}")
    for path in (input_path, output_path):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise InputFileError(path, f"不支持的文件类型 / unsupported file type {path.suffix or '(none)'!r}: use .xlsx, .xls or .csv")
    same = output_path.exists() and os.path.samefile(input_path, output_path)
    if same or input_path.resolve() == output_path.resolve():
        raise InputFileError(output_path, "输出文件不能覆盖输入文件 / the output must not overwrite the input file: choose another -o")



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
            cell = _cell_at(table.rows[index], table.question_col)
            question = cell_text(cell)
            is_formula = not question and (index, table.question_col) in table.formulas
            cells[index] = FORMULA_CELLS if is_formula else row_cells(assistant, cell, table.rows[index], table.question_col)
            sidecar.write(json.dumps({"row": index, "question": question, "cells": cells[index]}, ensure_ascii=False) + "\n")
            sidecar.flush()
            bar.update(1)
            if on_progress:
                on_progress(len(cells), total)
    return cells


FORMULA_CELLS: list[object] = [
    SKIP_PREFIX + "问题单元格是没有保存结果的公式 / the question cell is a formula with no saved value: "
    "open and save the file in Excel, or type the question as text", "", "", "", "",
]


def row_cells(assistant: Answerer, cell: object, row: list[object] = (), question_col: int = -1) -> list[object]:
    """A question is answered; a row that holds none is skipped with the reason, never an error."""
    kind = classify_row(cell, row, question_col)
    if not kind.is_question:
        return [SKIP_PREFIX + kind.reason, "", "", "", ""]
    return answer_cells(assistant, cell_text(cell))


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
        if index in table.data_rows and cell_text(_cell_at(table.rows[index], table.question_col)) == question:
            done[index] = cells
    return done


def _tally(report: BatchReport, table: Table, cells: dict[int, list[object]]) -> None:
    for index in table.data_rows:
        first = str(cells[index][0])
        if first.startswith(SKIP_PREFIX):
            report.skipped += 1
            report.skipped_rows.append(index + 1)
        elif first.startswith(ERROR_PREFIX):
            report.errors += 1
            report.error_rows.append(index + 1)
        else:
            report.answered += 1
            report.abstained += cells[index][4] == "否"


# ---------------------------------------------------------------- writing


def answer_positions(table: Table) -> list[int]:
    """Where the five answer cells of a row go: 答案 into the questionnaire's own answer column when it has one."""
    own = own_answer_column(table.rows[table.header], table.question_col, [table.rows[i] for i in table.data_rows])
    return _answer_column_positions(table.rows[table.header], _data_width(table), own)


def _answer_column_positions(header: list[object], width: int | None = None, own: int | None = None) -> list[int]:
    """Reuse columns already named 答案… (a re-run of an answered file), else append after the widest row."""
    names = [cell_text(v) for v in header]
    positions, next_free = [], max(len(trim_trailing_blank_cells(header)), width or 0)
    for name in ANSWER_COLUMNS:
        if name == ANSWER_COLUMNS[0] and own is not None:
            positions.append(own)
        elif name in names:
            positions.append(names.index(name))
        else:
            positions.append(next_free)
            next_free += 1
    return positions


def _data_width(table: Table) -> int:
    """The widest row's last non-blank cell: answers go after it, so a ragged row's extra cell survives
    (a formula with no saved value counts as a cell)."""
    formulas = (column + 1 for row, column in table.formulas if row >= table.header)
    return max(max((len(trim_trailing_blank_cells(r)) for r in table.rows[table.header :]), default=0), *formulas, 0)


def answered_grid(table: Table, cells: dict[int, list[object]], mark_skipped: bool = True) -> list[list[object]]:
    """The original grid with the answer columns filled in: same rows, same order, same cells.

    Without `mark_skipped` a skipped row (a section, a total, a footer) is left exactly as it was: the
    workbook lists those rows in its 说明 sheet instead of printing "跳过" beside a section heading."""
    header = table.rows[table.header]
    positions = answer_positions(table)
    width = max(max((len(r) for r in table.rows), default=0), max(positions) + 1)
    grid = [list(row) + [None] * (width - len(row)) for row in table.rows]
    for column in range(len(trim_trailing_blank_cells(header)), min(positions)):
        if not cell_text(grid[table.header][column]):  # the extra cells of ragged rows get a name
            grid[table.header][column] = f"{GENERATED_COLUMN}{column + 1}"
    for name, pos in zip(ANSWER_COLUMNS, positions, strict=True):
        if pos != table.question_col and not (name == ANSWER_COLUMNS[0] and cell_text(grid[table.header][pos])):
            grid[table.header][pos] = name  # the questionnaire's own answer column keeps its name
    for index, values in cells.items():
        if not mark_skipped and str(values[0]).startswith(SKIP_PREFIX):
            continue
        for pos, value in zip(positions, values, strict=True):
            grid[index][pos] = value
    return grid


GENERATED_COLUMN = "附加列"


def plan_sources(knowledge: Knowledge) -> tuple[str, ...]:
    """The plans the answers come from, for the 说明 sheet: titles where the plans name them."""
    sources = []
    for document in knowledge.documents:
        identity = knowledge.identities.get(document.name)
        title = identity.title if identity else ""
        named = [part for part in (identity.doc_number if identity else "", document.name) if part and part != title]
        sources.append(f"{title}（{'，'.join(named)}）" if title and named else title or document.name)
    return tuple(sources)


def write_answered(
    input_path: Path, output_path: Path, table: Table, cells: dict[int, list[object]], sources: tuple[str, ...] = ()
) -> None:
    """xlsx → xlsx edits the source workbook (keeping its other sheets and formatting); else a plain grid."""
    positions = answer_positions(table)
    if output_path.suffix.lower() == ".csv":
        grid = answered_grid(table, cells)
        write_atomic(output_path, _csv_bytes(_with_formulas(grid, table), positions))
        return
    from assistant.office.styling import NoteCounts, add_notes_sheet, style_answer_columns

    grid = answered_grid(table, cells, mark_skipped=False)
    workbook, worksheet = _answered_workbook(input_path, table, grid)
    style_answer_columns(worksheet, table.header + 1, [p + 1 for p in positions], len(grid), table.question_col + 1)
    counts = BatchReport(input_path, output_path)
    _tally(counts, table, cells)
    notes = (XLS_NOTE,) if input_path.suffix.lower() == ".xls" else ()
    skipped = tuple(f"第 {i + 1} 行：{str(cells[i][0]).removeprefix(SKIP_PREFIX)}" for i in counts_skipped(table, cells))
    add_notes_sheet(
        workbook, input_path.name, sources,
        NoteCounts(counts.answered, counts.abstained, counts.errors, counts.skipped, skipped), notes,
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    write_atomic(output_path, buffer.getvalue())


def counts_skipped(table: Table, cells: dict[int, list[object]]) -> list[int]:
    """Row indexes of the rows that hold no question."""
    return [i for i in table.data_rows if str(cells[i][0]).startswith(SKIP_PREFIX)]


def _with_formulas(grid: list[list[object]], table: Table) -> list[list[object]]:
    """An xlsx answered as csv keeps each formula as its text ("=SUM(C2:C9)"), as the xlsx answer keeps
    it as a formula: a saved value may be missing (files written by programs) or stale."""
    for (row, column), formula in table.formulas.items():
        grid[row][column] = formula
    return grid


def _csv_bytes(grid: list[list[object]], answer_columns: list[int]) -> bytes:
    """The user's cells as they were (a formula stays one); the answers through safe_text, never a formula."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [["" if v is None else csv_value(v) if i in answer_columns else v for i, v in enumerate(row)] for row in grid]
    )
    return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def _answered_workbook(input_path: Path, table: Table, grid: list[list[object]]):
    """The workbook to save and its answered sheet: the source workbook for an xlsx, a new one for a csv."""
    if input_path.suffix.lower() == ".xlsx":
        workbook = open_workbook(input_path, data_only=False)  # keep the user's formulas as formulas
        worksheet = pick_sheet(workbook, table.sheet_name, input_path)
        positions = answer_positions(table)
        header_names = range(len(trim_trailing_blank_cells(table.rows[table.header])), len(grid[table.header]))
        for row_index in range(table.header, len(grid)):  # rows above the header (a title) stay untouched
            columns = [*positions, *header_names] if row_index == table.header else positions
            for pos in dict.fromkeys(columns):
                set_xlsx_cell(worksheet.cell(row=row_index + 1, column=pos + 1), grid[row_index][pos])
        return workbook, worksheet
    from openpyxl import Workbook

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = table.sheet_name or "问答"
    for row_index, row in enumerate(grid, 1):
        for col_index, value in enumerate(row, 1):
            if value not in (None, ""):
                set_xlsx_cell(worksheet.cell(row=row_index, column=col_index), value)
    if input_path.suffix.lower() == ".xls":
        from assistant.office.styling import copy_xls_layout

        copy_xls_layout(input_path, table.sheet_name, min(answer_positions(table)), table.header, worksheet)
    return workbook, worksheet
