"""Reading and writing the spreadsheets users bring and take away (xlsx, csv), written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from .errors import SettingsError
from .models import LedgerRow

# The ledger's column headers as offices read them; only tables, csv and xlsx carry them.
LEDGER_HEADERS = {
    "action": "行动",
    "task": "任务",
    "indicator": "指标",
    "value": "目标值",
    "unit": "单位",
    "qualifier": "限定词",
    "statement": "表述",
    "year": "年份",
    "baseline": "基准",
    "lead_unit": "牵头单位",
    "partner_units": "配合单位",
    "clause_id": "条款编号",
    "quote": "原文",
}
FORMATS = ("table", "json", "csv", "xlsx")


def ledger_records(rows: Sequence[LedgerRow]) -> list[dict]:
    """Ledger rows under their Chinese headers, as the table, csv and xlsx show them."""
    return [
        {
            header: "、".join(value) if isinstance(value, tuple) else ("" if value is None else value)
            for header, value in zip(LEDGER_HEADERS.values(), _ledger_values(row), strict=True)
        }
        for row in rows
    ]


def _ledger_values(row: LedgerRow) -> list[object]:
    return [getattr(row, name) for name in LEDGER_HEADERS]


def render_ledger(rows: Sequence[LedgerRow], fmt: str) -> bytes:
    """json keeps the field names (for programs); every other format has the Chinese headers."""
    if fmt == "json":
        return json.dumps([r.to_dict() for r in rows], ensure_ascii=False, indent=2).encode("utf-8")
    return render_rows(ledger_records(rows), fmt)


def write_ledger(rows: Sequence[LedgerRow], path: Path, fmt: str | None = None) -> None:
    write_atomic(path, render_ledger(rows, fmt or path.suffix.lstrip(".").lower()))


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


def render_rows(rows: list[dict], fmt: str) -> bytes:
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
        writer.writerows(rows)
    return buffer.getvalue()


def _xlsx(rows: list[dict]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    if rows:
        sheet.append(list(rows[0]))
        for row in rows:
            sheet.append([_cell(v) for v in row.values()])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(value: object) -> object:
    return value if isinstance(value, int | float | str) or value is None else str(value)


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def render_table(rows: list[dict], max_cell: int = 40) -> str:
    """A plain aligned table for the terminal; long cells are cut with "…"."""
    if not rows:
        return "(无结果 / no rows)\n"
    columns = list(rows[0])
    cells = [[_shorten(str(row.get(c, "")), max_cell) for c in columns] for row in rows]
    widths = [max(display_width(c), *(display_width(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - display_width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]) + "\n"


def _shorten(text: str, limit: int) -> str:
    text = text.replace("\n", " ")
    out, width = "", 0
    for ch in text:
        width += display_width(ch)
        if width > limit:
            return out + "…"
        out += ch
    return out
