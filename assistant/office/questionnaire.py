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
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import INTERNAL_ERROR, InputFileError, PlanqaError
from assistant.facts.knowledge import Knowledge, KnowledgeAnswerer
from assistant.lang.asking import classify_row
from assistant.models import Answerer
from assistant.office.ledger import write_atomic

log = logging.getLogger(__name__)

ANSWER_COLUMNS = ("答案", "出处章节", "原文摘录", "置信度", "方案是否明确")
SUPPORTED_SUFFIXES = (".xlsx", ".xls", ".csv")
# An old .xls is read (xlrd) but cannot be written: its answered copy is an .xlsx beside the asked name.
XLS_NOTE = "原问卷为旧版 Excel（.xls），答卷另存为 .xlsx / the .xls questionnaire is answered as .xlsx"
# The header may sit below a title row ("某区碳达峰问卷"): look for it this far down.
HEADER_SEARCH_ROWS = 20
ERROR_PREFIX = "错误 / error: "
# Bounds on one questionnaire, checked before the sheet is read: a 5 KB xlsx with one cell at XFD1500
# would otherwise become a 24-million-cell grid. The page and the API keep MAX_ROWS; the CLI may raise it.
MAX_ROWS = 2000
MAX_COLUMNS = 256
MAX_XLSX_UNPACKED_BYTES = 64 * 1024 * 1024  # a zip bomb is refused before openpyxl inflates it
MAX_CSV_FIELD_CHARS = 1024 * 1024  # csv's own default (131,072) raises a bare csv.Error
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


@dataclass
class Table:
    """One sheet as a grid of cells; `header` is the index of the row holding the column names."""

    rows: list[list[object]]
    header: int
    question_col: int
    sheet_name: str | None = None
    # (row, column) of each formula cell, as in `rows` → its formula ("=SUM(C2:C9)"); `rows` hold saved values
    formulas: Mapping[tuple[int, int], str] = field(default_factory=dict)
    ragged_rows: tuple[int, ...] = ()  # 1-based rows with more cells than the header names

    @property
    def data_rows(self) -> range:
        return range(self.header + 1, len(self.rows))


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
    assistant.prefetch([_text(_cell_at(table.rows[i], table.question_col)) for i in table.data_rows if i not in done])
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


# ---------------------------------------------------------------- reading


def read_table(path: Path, column: str = "问题", sheet: str | None = None, max_rows: int | None = MAX_ROWS) -> Table:
    """Read the sheet and find the header row holding `column`; an InputFileError listing the columns when it is missing."""
    row_limit = None if max_rows is None else max_rows + HEADER_SEARCH_ROWS + 1
    if path.suffix.lower() == ".csv":
        rows, sheet_name, formulas = _read_csv(path, row_limit), None, {}
    elif path.suffix.lower() == ".xls":
        rows, sheet_name, formulas = _read_xls(path, sheet, row_limit), _xls_sheet_name(path, sheet), {}
    else:
        rows, sheet_name, formulas = _read_xlsx(path, sheet, row_limit)
    last_formula_row = max((row for row, _ in formulas), default=-1)  # reported, not trimmed as blank
    rows = rows[: max(len(_trim_trailing_blank_rows(rows)), last_formula_row + 1)]
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = [_text(v) for v in row]
        if column in names:
            table = Table(rows, index, names.index(column), sheet_name, formulas, _ragged_rows(rows, index))
            _check_row_count(table, max_rows, path)
            _report_ragged(table, path)
            return table
    # The widest of the top rows is the header the user meant (a title row has one cell).
    found = max(([_text(v) for v in r if _text(v)] for r in rows[:HEADER_SEARCH_ROWS]), key=len, default=[])
    raise InputFileError(
        path,
        f"找不到“{column}”列，已有的列：{'、'.join(found) or '（无，工作表为空）'}，请指定问题所在的列 / no column named {column!r}"
        f"{f' (sheet {sheet_name!r})' if sheet_name else ''}; columns found: {', '.join(found) or '(none: the sheet is empty)'}"
        " — name the question column",
    )


def _ragged_rows(rows: list[list[object]], header: int) -> tuple[int, ...]:
    """Rows holding a value beyond the header's last named column: kept whole, under generated names."""
    named = len(_trim_trailing_blank_cells(rows[header]))
    return tuple(i + 1 for i in range(header + 1, len(rows)) if len(_trim_trailing_blank_cells(rows[i])) > named)


def _trim_trailing_blank_cells(row: list[object]) -> list[object]:
    end = len(row)
    while end and not _text(row[end - 1]):
        end -= 1
    return row[:end]


def _report_ragged(table: Table, path: Path) -> None:
    if table.ragged_rows:
        shown = ", ".join(map(str, table.ragged_rows[:20]))
        log.warning(
            "%s: 第 %s 行的单元格多于表头，多出的列已保留在自动命名的列下 / rows %s have more cells than the header: "
            "the extra cells are kept under generated column names", path.name, shown, shown,
        )


def _check_row_count(table: Table, max_rows: int | None, path: Path) -> None:
    if max_rows is not None and len(table.data_rows) > max_rows:
        raise InputFileError(
            path,
            f"问题过多 / too many questions ({len(table.data_rows)} > {max_rows}): "
            "split the file (the command line takes more with --max-rows)"
        )


def _too_big(path: Path, what: str) -> InputFileError:
    return InputFileError(path, f"文件过大 / too large: {what}; split the file")


def _read_csv(path: Path, row_limit: int | None = None) -> list[list[object]]:
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
    return _bounded_csv_rows(path, text, row_limit)


def _bounded_csv_rows(path: Path, text: str, row_limit: int | None) -> list[list[object]]:
    """Rows of a csv, stopping at the first row or column past the bounds instead of filling memory."""
    csv.field_size_limit(MAX_CSV_FIELD_CHARS)
    rows: list[list[object]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            if len(row) > MAX_COLUMNS:
                raise _too_big(path, f"{len(row)} columns (at most {MAX_COLUMNS})")
            rows.append(list(row))
            if row_limit is not None and len(rows) > row_limit:
                raise _too_big(path, f"more than {row_limit} rows")
    except csv.Error as exc:  # a field over MAX_CSV_FIELD_CHARS, a NUL byte, …
        raise InputFileError(
            path, f"无法读取 / cannot read it as csv ({exc}; a cell holds at most {MAX_CSV_FIELD_CHARS:,} characters)"
        ) from exc
    return rows


def _read_xls(path: Path, sheet: str | None, row_limit: int | None = None) -> list[list[object]]:
    """An old-format workbook's values (xlrd keeps no formulas, only their saved results): numbers that are
    whole stay integers (序号 1, not 1.0), dates become dates."""
    import xlrd

    book = _open_xls(path)
    worksheet = _pick_xls_sheet(book, sheet, path)
    if worksheet.ncols > MAX_COLUMNS:
        raise _too_big(path, f"a row reaches column {worksheet.ncols} (at most {MAX_COLUMNS})")
    if row_limit is not None and worksheet.nrows > row_limit:
        raise _too_big(path, f"more than {row_limit} rows")
    return [[_xls_value(cell, book.datemode, xlrd) for cell in worksheet.row(r)] for r in range(worksheet.nrows)]


def _xls_value(cell, datemode: int, xlrd) -> object:
    if cell.ctype == xlrd.XL_CELL_NUMBER and float(cell.value).is_integer():
        return int(cell.value)
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate_as_datetime(cell.value, datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return cell.value
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None
    return cell.value


def _open_xls(path: Path, formatting: bool = False):
    import xlrd

    try:
        return xlrd.open_workbook(str(path), formatting_info=formatting, on_demand=True)
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError, OSError, ValueError, AssertionError, IndexError) as exc:
        raise InputFileError(path, f"无法读取 / cannot read it as an .xls workbook ({type(exc).__name__}: {exc}): save it as .xlsx") from exc


def _pick_xls_sheet(book, sheet: str | None, path: Path):
    """The named sheet, else the one selected when the file was saved, else the first."""
    names = book.sheet_names()
    if sheet is not None and sheet not in names:
        raise InputFileError(path, f"找不到工作表 / no sheet {sheet!r}; sheets: {', '.join(names)}")
    if sheet is not None:
        return book.sheet_by_name(sheet)
    sheets = [book.sheet_by_index(i) for i in range(book.nsheets)]
    return next((s for s in sheets if getattr(s, "sheet_selected", 0)), sheets[0])


def _xls_sheet_name(path: Path, sheet: str | None) -> str:
    return _pick_xls_sheet(_open_xls(path), sheet, path).name


def _read_xlsx(
    path: Path, sheet: str | None, row_limit: int | None = None
) -> tuple[list[list[object]], str, dict[tuple[int, int], str]]:
    """The sheet's values, once its real extent is known to be bounded; formula cells are noted."""
    formula_cells = _check_xlsx_extent(path, sheet, row_limit)
    workbook = _open_workbook(path, data_only=True)
    worksheet = _pick_sheet(workbook, sheet, path)
    top, left = worksheet.min_row, worksheet.min_column  # iter_rows starts at the first used cell
    formulas = {(row - top, col - left): text for (row, col), text in formula_cells.items()}
    return [list(row) for row in worksheet.iter_rows(values_only=True)], worksheet.title, formulas


def _check_xlsx_extent(path: Path, sheet: str | None, row_limit: int | None) -> dict[tuple[int, int], str]:
    """Stream the sheet once (read-only, no declared dimension trusted) and refuse what is too big.

    Returns the formula of each formula cell by (row, column), 1-based, so that an empty formula result
    is reported as a formula rather than as an empty question, and a csv answer keeps the formula.
    """
    _check_unpacked_size(path)
    workbook = _open_workbook(path, data_only=False, read_only=True)
    try:
        worksheet = _pick_sheet(workbook, sheet, path)
        worksheet.reset_dimensions()  # the <dimension> tag is whatever the file claims
        formulas: dict[tuple[int, int], str] = {}
        for count, row in enumerate(worksheet.iter_rows(), 1):
            if len(row) > MAX_COLUMNS:
                raise _too_big(path, f"a row reaches column {len(row)} (at most {MAX_COLUMNS})")
            if row_limit is not None and count > row_limit:
                raise _too_big(path, f"more than {row_limit} rows")
            formulas.update(((c.row, c.column), str(c.value)) for c in row if getattr(c, "data_type", None) == "f")
        return formulas
    finally:
        workbook.close()


def _check_unpacked_size(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(path, f"无法读取 / cannot read it as an xlsx workbook ({type(exc).__name__}: {exc})") from exc
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise _too_big(path, f"{unpacked // 2**20} MB once unpacked (at most {MAX_XLSX_UNPACKED_BYTES // 2**20} MB)")


def _open_workbook(path: Path, data_only: bool, read_only: bool = False):
    """openpyxl's own errors (BadZipFile, KeyError…) say nothing to a user: turn them into one message."""
    from openpyxl import load_workbook

    try:
        return load_workbook(path, data_only=data_only, read_only=read_only)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputFileError(path, f"无法读取 / cannot read it as an xlsx workbook ({type(exc).__name__}: {exc})") from exc


def _pick_sheet(workbook, sheet: str | None, path: Path):
    if sheet is not None and sheet not in workbook.sheetnames:
        raise InputFileError(path, f"找不到工作表 / no sheet {sheet!r}; sheets: {', '.join(workbook.sheetnames)}")
    chosen = workbook.active if sheet is None else workbook[sheet]
    if chosen is None or not hasattr(chosen, "iter_rows"):  # a chart sheet, or no sheet at all
        raise InputFileError(
            path,
            f"工作表不是表格 / the {'active ' if sheet is None else ''}sheet holds no cells (a chart?): "
            f"pass --sheet NAME; sheets: {', '.join(workbook.sheetnames)}"
        )
    return chosen


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
            cell = _cell_at(table.rows[index], table.question_col)
            question = _text(cell)
            is_formula = not question and (index, table.question_col) in table.formulas
            cells[index] = FORMULA_CELLS if is_formula else row_cells(assistant, cell)
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


def row_cells(assistant: Answerer, cell: object) -> list[object]:
    """A question is answered; a cell that holds none is skipped with the reason, never an error."""
    kind = classify_row(cell)
    if not kind.is_question:
        return [SKIP_PREFIX + kind.reason, "", "", "", ""]
    return answer_cells(assistant, _text(cell))


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


def _answer_column_positions(header: list[object], width: int | None = None) -> list[int]:
    """Reuse columns already named 答案… (a re-run of an answered file), else append after the widest row."""
    names = [_text(v) for v in header]
    positions, next_free = [], max(len(_trim_trailing_blank_cells(header)), width or 0)
    for name in ANSWER_COLUMNS:
        if name in names:
            positions.append(names.index(name))
        else:
            positions.append(next_free)
            next_free += 1
    return positions


def _data_width(table: Table) -> int:
    """The widest row's last non-blank cell: answers go after it, so a ragged row's extra cell survives
    (a formula with no saved value counts as a cell)."""
    formulas = (column + 1 for row, column in table.formulas if row >= table.header)
    return max(max((len(_trim_trailing_blank_cells(r)) for r in table.rows[table.header :]), default=0), *formulas, 0)


def answered_grid(table: Table, cells: dict[int, list[object]]) -> list[list[object]]:
    """The original grid with the answer columns filled in: same rows, same order, same cells."""
    header = table.rows[table.header]
    positions = _answer_column_positions(header, _data_width(table))
    width = max(max((len(r) for r in table.rows), default=0), max(positions) + 1)
    grid = [list(row) + [None] * (width - len(row)) for row in table.rows]
    for column in range(len(_trim_trailing_blank_cells(header)), min(positions)):
        if not _text(grid[table.header][column]):  # the extra cells of ragged rows get a name
            grid[table.header][column] = f"{GENERATED_COLUMN}{column + 1}"
    for name, pos in zip(ANSWER_COLUMNS, positions, strict=True):
        grid[table.header][pos] = name
    for index, values in cells.items():
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
        sources.append(f"{title}（{document.name}）" if title and title != document.name else document.name)
    return tuple(sources)


def write_answered(
    input_path: Path, output_path: Path, table: Table, cells: dict[int, list[object]], sources: tuple[str, ...] = ()
) -> None:
    """xlsx → xlsx edits the source workbook (keeping its other sheets and formatting); else a plain grid."""
    grid = answered_grid(table, cells)
    if output_path.suffix.lower() == ".csv":
        write_atomic(output_path, _csv_bytes(_with_formulas(grid, table)))
        return
    from assistant.office.styling import NoteCounts, add_notes_sheet, style_answer_columns

    workbook, worksheet = _answered_workbook(input_path, table, grid)
    positions = _answer_column_positions(table.rows[table.header], _data_width(table))
    style_answer_columns(worksheet, table.header + 1, [p + 1 for p in positions], len(grid))
    counts = BatchReport(input_path, output_path)
    _tally(counts, table, cells)
    notes = (XLS_NOTE,) if input_path.suffix.lower() == ".xls" else ()
    add_notes_sheet(
        workbook, input_path.name, sources, NoteCounts(counts.answered, counts.abstained, counts.errors, counts.skipped), notes
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    write_atomic(output_path, buffer.getvalue())


def _with_formulas(grid: list[list[object]], table: Table) -> list[list[object]]:
    """An xlsx answered as csv keeps each formula as its text ("=SUM(C2:C9)"), as the xlsx answer keeps
    it as a formula: a saved value may be missing (files written by programs) or stale."""
    for (row, column), formula in table.formulas.items():
        grid[row][column] = formula
    return grid


def _csv_bytes(grid: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["" if v is None else v for v in row] for row in grid])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def _answered_workbook(input_path: Path, table: Table, grid: list[list[object]]):
    """The workbook to save and its answered sheet: the source workbook for an xlsx, a new one for a csv."""
    if input_path.suffix.lower() == ".xlsx":
        workbook = _open_workbook(input_path, data_only=False)  # keep the user's formulas as formulas
        worksheet = _pick_sheet(workbook, table.sheet_name, input_path)
        positions = _answer_column_positions(table.rows[table.header], _data_width(table))
        header_names = range(len(_trim_trailing_blank_cells(table.rows[table.header])), len(grid[table.header]))
        for row_index in range(table.header, len(grid)):  # rows above the header (a title) stay untouched
            columns = [*positions, *header_names] if row_index == table.header else positions
            for pos in dict.fromkeys(columns):
                _set_cell(worksheet.cell(row=row_index + 1, column=pos + 1), grid[row_index][pos])
        return workbook, worksheet
    from openpyxl import Workbook

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = table.sheet_name or "问答"
    for row_index, row in enumerate(grid, 1):
        for col_index, value in enumerate(row, 1):
            if value not in (None, ""):
                _set_cell(worksheet.cell(row=row_index, column=col_index), value)
    if input_path.suffix.lower() == ".xls":
        _copy_xls_layout(input_path, table, worksheet)
    return workbook, worksheet


def _copy_xls_layout(input_path: Path, table: Table, worksheet) -> None:
    """What of an .xls's look survives the move to .xlsx: merged cells (a title across the table) and column widths."""
    from openpyxl.utils import get_column_letter

    try:
        source = _pick_xls_sheet(_open_xls(input_path, formatting=True), table.sheet_name, input_path)
    except InputFileError:  # formatting that xlrd cannot parse: the values are already in place
        log.warning("%s: column widths and merged cells of the .xls were not copied", input_path.name)
        return
    answers_from = min(_answer_column_positions(table.rows[table.header], _data_width(table)))
    for top, bottom, left, right in source.merged_cells:
        if right <= answers_from or bottom <= table.header:  # never over an answer cell
            worksheet.merge_cells(start_row=top + 1, end_row=bottom, start_column=left + 1, end_column=right)
    for column, info in source.colinfo_map.items():
        if column < answers_from:
            worksheet.column_dimensions[get_column_letter(column + 1)].width = round(info.width / 256, 1)


def _set_cell(cell, value: object) -> None:
    """Text starting with "=" stays text: an answer or a csv cell must never become a formula."""
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
