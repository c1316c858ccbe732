"""Rows of named values as a terminal table, csv, xlsx or json: the plain renderings every command shares."""

from __future__ import annotations

import csv
import io
import json

from assistant.errors import SettingsError
from assistant.office.safe_text import append_xlsx_row, csv_value
from assistant.office.styling import text_width

FORMATS = ("table", "json", "csv", "xlsx")


def render_rows(rows: list[dict], fmt: str) -> bytes:
    """Rows as a file: csv and xlsx cells go through safe_text (no control characters, no live formulas)."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "csv":
        return _csv(rows).encode("utf-8-sig")  # the BOM makes Excel read UTF-8
    if fmt == "xlsx":
        return _xlsx(rows)
    if fmt == "table":
        return render_table(rows).encode("utf-8")
    raise SettingsError(f"不支持的格式 / unknown format {fmt!r}: use {', '.join(FORMATS)}")


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({name: csv_value(value) for name, value in row.items()} for row in rows)
    return buffer.getvalue()


def _xlsx(rows: list[dict]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    if rows:
        append_xlsx_row(sheet, list(rows[0]))
        for row in rows:
            append_xlsx_row(sheet, [_cell(v) for v in row.values()])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(value: object) -> object:
    return value if isinstance(value, int | float | str) or value is None else str(value)


def render_table(rows: list[dict], max_cell: int = 40, width: int | None = None) -> str:
    """A plain aligned table for the terminal; long cells are cut with "…", the widest first to fit `width`."""
    if not rows:
        return "(无结果 / no rows)\n"
    columns = list(rows[0])
    texts = [[str(row.get(c, "")).replace("\n", " ") for c in columns] for row in rows]
    widths = [min(max_cell, max(text_width(c), *(text_width(r[i]) for r in texts))) for i, c in enumerate(columns)]
    _narrow_to(widths, width)
    cells = [[_shorten(text, w) for text, w in zip(row, widths, strict=True)] for row in texts]
    widths = [max(w, text_width(c)) for w, c in zip(widths, columns, strict=True)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - text_width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]) + "\n"


MIN_COLUMN_WIDTH = 8


def _narrow_to(widths: list[int], total: int | None) -> None:
    """Take one character at a time from the widest column until the line fits in `total`."""
    if total is None:
        return
    while sum(widths) + 2 * (len(widths) - 1) > total:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= MIN_COLUMN_WIDTH:
            return
        widths[widest] -= 1


def _shorten(text: str, limit: int) -> str:
    """At most `limit` columns wide, "…" included when cut (a CJK character takes two)."""
    if text_width(text) <= limit:
        return text
    out, used = "", 1  # room for the "…"
    for ch in text:
        used += text_width(ch)
        if used > limit:
            break
        out += ch
    return out + "…"
