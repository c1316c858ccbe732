"""The spreadsheets users bring, read within bounds (xlsx, xls, csv), and every deliverable written atomically.

A questionnaire is read before anything is answered: its real extent is checked first (a 5 KB xlsx with one
cell at XFD1500 would otherwise become a 24-million-cell grid), and the header row holding the question
column is found below any title rows.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import struct
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import InputFileError
from assistant.office.xlsx_limits import (
    MAX_GRID_CELLS,
    MAX_MERGED_CELLS,
    check_xlsx_parts,
    too_big,
)

log = logging.getLogger(__name__)

# The header may sit below a title row ("某区碳达峰问卷"): look for it this far down.
HEADER_SEARCH_ROWS = 20
# Bounds on one questionnaire, checked before the sheet is read: a 5 KB xlsx with one cell at XFD1500
# would otherwise become a 24-million-cell grid. The page and the API keep MAX_ROWS; the CLI may raise it.
MAX_ROWS = 2000
MAX_COLUMNS = 256
MAX_CSV_FIELD_CHARS = 1024 * 1024  # csv's own default (131,072) raises a bare csv.Error
# Bounds on a whole xlsx, checked by streaming its parts before openpyxl loads anything: openpyxl's full load
# makes one object per cell a merged range or a range hyperlink covers, reads every sheet and every shared
# string (a 5 KB file with <mergeCell ref="B5:Z320000"/> took 201 s and 2.6 GB).


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
        names = [cell_text(v) for v in row]
        if column in names:
            table = Table(rows, index, names.index(column), sheet_name, formulas, _ragged_rows(rows, index))
            _check_row_count(table, max_rows, path)
            _report_ragged(table, path)
            return table
    # The widest of the top rows is the header the user meant (a title row has one cell).
    found = max(([cell_text(v) for v in r if cell_text(v)] for r in rows[:HEADER_SEARCH_ROWS]), key=len, default=[])
    raise InputFileError(
        path,
        f"找不到“{column}”列，已有的列：{'、'.join(found) or '（无，工作表为空）'}，请指定问题所在的列 / no column named {column!r}"
        f"{f' (sheet {sheet_name!r})' if sheet_name else ''}; columns found: {', '.join(found) or '(none: the sheet is empty)'}"
        " — name the question column",
    )


def _ragged_rows(rows: list[list[object]], header: int) -> tuple[int, ...]:
    """Rows holding a value beyond the header's last named column: kept whole, under generated names."""
    named = len(trim_trailing_blank_cells(rows[header]))
    return tuple(i + 1 for i in range(header + 1, len(rows)) if len(trim_trailing_blank_cells(rows[i])) > named)


def trim_trailing_blank_cells(row: list[object]) -> list[object]:
    end = len(row)
    while end and not cell_text(row[end - 1]):
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
                raise too_big(path, f"{len(row)} columns (at most {MAX_COLUMNS})")
            rows.append(list(row))
            if row_limit is not None and len(rows) > row_limit:
                raise too_big(path, f"more than {row_limit} rows")
    except csv.Error as exc:  # a field over MAX_CSV_FIELD_CHARS, a NUL byte, …
        raise InputFileError(
            path, f"无法读取 / cannot read it as csv ({exc}; a cell holds at most {MAX_CSV_FIELD_CHARS:,} characters)"
        ) from exc
    return rows


def _read_xls(path: Path, sheet: str | None, row_limit: int | None = None) -> list[list[object]]:
    """An old-format workbook's values (xlrd keeps no formulas, only their saved results): numbers that are
    whole stay integers (序号 1, not 1.0), dates become dates."""
    import xlrd

    book = open_xls(path)
    worksheet = pick_xls_sheet(book, sheet, path)
    if worksheet.ncols > MAX_COLUMNS:
        raise too_big(path, f"a row reaches column {worksheet.ncols} (at most {MAX_COLUMNS})")
    if row_limit is not None and worksheet.nrows > row_limit:
        raise too_big(path, f"more than {row_limit} rows")
    _check_grid(path, worksheet.nrows, worksheet.ncols)
    rows = [[_xls_value(cell, book.datemode, xlrd) for cell in worksheet.row(r)] for r in range(worksheet.nrows)]
    return [row + [None] * (worksheet.ncols - len(row)) for row in rows]


def _check_grid(path: Path, rows: int, columns: int) -> None:
    if rows * columns > MAX_GRID_CELLS:
        raise too_big(path, f"{rows} rows of {columns} columns (at most {MAX_GRID_CELLS:,} cells in the sheet)")


def bounded_merges(path: Path, ranges: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """An .xls's merged ranges (top, bottom, left, right; xlrd's half-open form), refused when together they
    cover more than MAX_MERGED_CELLS: openpyxl makes one object per covered cell."""
    covered = sum((bottom - top) * (right - left) for top, bottom, left, right in ranges)
    if covered > MAX_MERGED_CELLS:
        raise too_big(path, f"merged ranges cover {covered:,} cells (at most {MAX_MERGED_CELLS:,} cells under merged ranges)")
    return ranges


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


def open_xls(path: Path, formatting: bool = False):
    import xlrd

    try:
        _check_xls_short_chains(path)
        # ragged rows: xlrd would otherwise pad every row to the widest, and one mutated cell address
        # (row 65000, column 250) turns a 5 KB file into 16 million cells before any bound is checked
        return xlrd.open_workbook(str(path), formatting_info=formatting, on_demand=True, ragged_rows=True)
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError, *_XLS_PARSE_ERRORS) as exc:
        raise _unreadable_xls(path, exc) from exc


def _check_xls_short_chains(path: Path) -> None:
    """xlrd follows a small stream's sector chain with no loop check (xlrd/compdoc.py `_get_stream`, seen_id
    None): one mutated byte makes it append empty sectors forever (254 s, 6.1 GB). Walk the chain first."""
    from xlrd import compdoc

    data = path.read_bytes()
    if not data.startswith(compdoc.SIGNATURE):
        return  # not a compound file: xlrd reads it as a bare BIFF stream
    document = compdoc.CompDoc(data, logfile=io.StringIO())
    for name in ("Workbook", "Book"):
        node = document._dir_search([name])
        if node is None or node.tot_size >= document.min_size_std_stream:
            continue  # a large stream's chain is followed with xlrd's own loop check
        sector, seen = node.first_SID, set()
        while sector >= 0:
            if sector in seen or sector >= len(document.SSAT):
                raise compdoc.CompDocError(f"the {name} stream's short-sector chain loops or breaks at {sector}")
            seen.add(sector)
            sector = document.SSAT[sector]


# What xlrd raises on a damaged or mutated file (its parser trusts record lengths and indexes).
_XLS_PARSE_ERRORS = (OSError, ValueError, AssertionError, LookupError, TypeError, OverflowError, struct.error)


def _unreadable_xls(path: Path, exc: Exception) -> InputFileError:
    return InputFileError(path, f"无法读取 / cannot read it as an .xls workbook ({type(exc).__name__}: {exc}): save it as .xlsx")


def pick_xls_sheet(book, sheet: str | None, path: Path):
    """The named sheet, else the one selected when the file was saved, else the first (on_demand: its records
    are parsed here, so a damaged sheet is an InputFileError here too)."""
    import xlrd

    names = book.sheet_names()
    if sheet is not None and sheet not in names:
        raise InputFileError(path, f"找不到工作表 / no sheet {sheet!r}; sheets: {', '.join(names)}")
    try:
        if sheet is not None:
            return book.sheet_by_name(sheet)
        sheets = [book.sheet_by_index(i) for i in range(book.nsheets)]
        return next((s for s in sheets if getattr(s, "sheet_selected", 0)), sheets[0])
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError, *_XLS_PARSE_ERRORS) as exc:
        raise _unreadable_xls(path, exc) from exc


def _xls_sheet_name(path: Path, sheet: str | None) -> str:
    return pick_xls_sheet(open_xls(path), sheet, path).name


def _read_xlsx(
    path: Path, sheet: str | None, row_limit: int | None = None
) -> tuple[list[list[object]], str, dict[tuple[int, int], str]]:
    """The sheet's values, streamed once its extent is known to be bounded (no full load: merged ranges are
    not expanded, other sheets not read); formula cells are noted."""
    formula_cells = _check_xlsx_extent(path, sheet, row_limit)
    workbook = open_workbook(path, data_only=True, read_only=True)
    try:
        worksheet = pick_sheet(workbook, sheet, path)
        worksheet.reset_dimensions()
        rows = [list(row) for row in worksheet.iter_rows(values_only=True)]  # from A1, as formula_cells count
        title = worksheet.title
    finally:
        workbook.close()
    width = max(map(len, rows), default=0)
    formulas = {(row - 1, col - 1): text for (row, col), text in formula_cells.items()}
    return [row + [None] * (width - len(row)) for row in rows], title, formulas


def _check_xlsx_extent(path: Path, sheet: str | None, row_limit: int | None) -> dict[tuple[int, int], str]:
    """Stream the sheet once (read-only, no declared dimension trusted) and refuse what is too big.

    Returns the formula of each formula cell by (row, column), 1-based, so that an empty formula result
    is reported as a formula rather than as an empty question, and a csv answer keeps the formula.
    """
    check_xlsx_parts(path)
    workbook = open_workbook(path, data_only=False, read_only=True)
    try:
        worksheet = pick_sheet(workbook, sheet, path)
        worksheet.reset_dimensions()  # the <dimension> tag is whatever the file claims
        formulas: dict[tuple[int, int], str] = {}
        width = 0
        for count, row in enumerate(worksheet.iter_rows(), 1):
            if len(row) > MAX_COLUMNS:
                raise too_big(path, f"a row reaches column {len(row)} (at most {MAX_COLUMNS})")
            if row_limit is not None and count > row_limit:
                raise too_big(path, f"more than {row_limit} rows")
            width = max(width, len(row))
            _check_grid(path, count, width)
            formulas.update(((c.row, c.column), str(c.value)) for c in row if getattr(c, "data_type", None) == "f")
        return formulas
    finally:
        workbook.close()


def open_workbook(path: Path, data_only: bool, read_only: bool = False):
    """openpyxl's own errors (BadZipFile, KeyError…) say nothing to a user: turn them into one message."""
    from openpyxl import load_workbook

    try:
        return load_workbook(path, data_only=data_only, read_only=read_only)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputFileError(path, f"无法读取 / cannot read it as an xlsx workbook ({type(exc).__name__}: {exc})") from exc


def pick_sheet(workbook, sheet: str | None, path: Path):
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
    while end and not any(cell_text(v) for v in rows[end - 1]):
        end -= 1
    return rows[:end]


def cell_text(value: object) -> str:
    return "" if value is None else str(value).strip()


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide a shared deliverable from colleagues
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (reading it means setting it; put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
