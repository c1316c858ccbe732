"""The targets ledger (目标任务台账) as a terminal table, csv, json and a workbook with its 图表 sheet."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from assistant.models import LEDGER_COLUMNS, LEDGER_HEADERS, LedgerColumn, LedgerRow
from assistant.office.safe_text import append_xlsx_row, clean_text
from assistant.office.sheets import write_atomic
from assistant.office.styling import CountTable, add_chart_sheet
from assistant.office.tables import render_rows, render_table


def ledger_records(rows: Sequence[LedgerRow]) -> list[dict]:
    """Ledger rows under their Chinese headers, as the table and csv show them."""
    return [{column.header: field_text(row, column.field) for column in LEDGER_COLUMNS} for row in rows]


def field_text(row: LedgerRow, field: str) -> object:
    """A field as a cell shows it: several units joined with 、, no year as an empty cell."""
    value = getattr(row, field)
    if isinstance(value, tuple | list):
        return "、".join(value)
    return "" if value is None else value


# What a terminal shows of the ledger: enough to find a target; csv and xlsx carry every column.
TABLE_FIELDS = ("action", "indicator", "statement", "year", "lead_unit")


def render_ledger(rows: Sequence[LedgerRow], fmt: str, width: int | None = None) -> bytes:
    """json keeps the field names (for programs); every other format has the Chinese headers."""
    if fmt == "json":
        return json.dumps([r.to_dict() for r in rows], ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "xlsx":
        return ledger_workbook(rows)
    if fmt == "table":
        picked = [{LEDGER_HEADERS[f]: field_text(row, f) for f in TABLE_FIELDS} for row in rows]
        return render_table(picked, width=width).encode("utf-8")
    return render_rows(ledger_records(rows), fmt)


LEDGER_SHEET = "目标台账"
OPTIONAL_FIELDS = frozenset({"plan", "direction"})  # a workbook shows them only when some row fills them
# Long text wraps in a fixed width; everything else is fitted to its content.
WORKBOOK_WIDTHS = {
    LEDGER_HEADERS[field]: width
    for field, width in {"quote": 60, "statement": 30, "task": 30, "action": 24, "indicator": 24,
                         "partner_units": 24, "plan": 24}.items()
}
SHEET_NAME_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


def ledger_workbook(rows: Sequence[LedgerRow]) -> bytes:
    """目标台账 with every row, plus one sheet per plan when rows come from several plans."""
    from openpyxl import Workbook

    columns = [c for c in LEDGER_COLUMNS if c.field not in OPTIONAL_FIELDS or any(getattr(r, c.field) for r in rows)]
    workbook = Workbook()
    _fill_ledger_sheet(workbook.active, LEDGER_SHEET, rows, columns)
    plans = list(dict.fromkeys(r.plan for r in rows))
    if len(plans) > 1:
        for plan in plans:
            chosen = [r for r in rows if (r.plan) == plan]
            title = _sheet_title(workbook, plan or "未注明方案")
            _fill_ledger_sheet(workbook.create_sheet(title), title, chosen, columns)
    if rows:
        add_chart_sheet(workbook, ledger_counts(rows))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


UNDATED = "未注明"


def ledger_counts(rows: Sequence[LedgerRow]) -> tuple[CountTable, CountTable]:
    """Targets per action (in the plan's order) and per year (in time order), for the 图表 sheet."""
    several = len({r.plan for r in rows}) > 1
    actions = Counter(_action_label(r, several) for r in rows)
    years = Counter(r.year for r in rows)
    by_year = sorted(years.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return (
        CountTable("行动", tuple(actions.items()), "各行动目标数", horizontal=True),
        CountTable("年份", tuple((str(y) if y else UNDATED, n) for y, n in by_year), "各年份目标数"),
    )


def _action_label(row: LedgerRow, several_plans: bool) -> str:
    """The action heading; with several plans, prefixed by the plan (two plans may share a heading)."""
    action = row.action or UNDATED
    plan = row.plan
    return f"{plan}：{action}" if several_plans and plan else action


def _fill_ledger_sheet(sheet, title: str, rows: Sequence[LedgerRow], columns: list[LedgerColumn]) -> None:
    from assistant.office.styling import fit_widths, set_print_layout, style_body, style_header

    sheet.title = title
    sheet.append([column.header for column in columns])
    for row in rows:
        append_xlsx_row(sheet, [_workbook_value(row, column.field) for column in columns])
    for cell in sheet[1]:
        style_header(cell)
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            style_body(cell, wrap=columns[cell.column - 1].header in WORKBOOK_WIDTHS)
    fit_widths(sheet, 1, WORKBOOK_WIDTHS)
    sheet.auto_filter.ref = sheet.dimensions
    set_print_layout(sheet, 1)


def _workbook_value(row: LedgerRow, field: str) -> object:
    """目标值 as a number when it is one (so it sums and sorts); the rest as the csv shows it."""
    return _number(row.value) if field == "value" else field_text(row, field)


def _number(text: object) -> object:
    try:
        number = float(str(text).replace(",", ""))
    except ValueError:
        return text  # "一半", a range: kept as written
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() and "." not in str(text) else number


def _sheet_title(workbook, wanted: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = clean_text(wanted).translate(SHEET_NAME_FORBIDDEN)[:28] or "方案"
    title, n = base, 2
    while title in workbook.sheetnames:
        title, n = f"{base}{n}", n + 1
    return title


def write_ledger(rows: Sequence[LedgerRow], path: Path, fmt: str | None = None) -> None:
    write_atomic(path, render_ledger(rows, fmt or path.suffix.lstrip(".").lower()))
