"""An xlsx counted before it is opened: every part streamed once, nothing expanded.

openpyxl's full load expands a merged range into one object per covered cell and copies a range hyperlink
to every cell: a 5 KB file with one merged range can take minutes and gigabytes. So the parts are counted
first (sheets, cells, merged and hyperlinked cells, shared strings, unpacked size and deflate ratio), and a
workbook over a limit is refused naming it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from assistant.errors import InputFileError

MAX_XLSX_UNPACKED_BYTES = 64 * 1024 * 1024  # a zip bomb is refused before openpyxl inflates it
MAX_SHEETS = 100
MAX_WORKBOOK_CELLS = 500_000  # written cells and rows, over all sheets
MAX_MERGED_CELLS = 100_000  # cells covered by merged ranges, over all sheets
MAX_HYPERLINK_CELLS = 100_000  # cells covered by hyperlinks, over all sheets
MAX_SHARED_STRINGS = 500_000
MAX_GRID_CELLS = 1_000_000  # the chosen sheet as a grid: rows × its widest row (when the CLI lifts the row bound)
MAX_DEFLATE_RATIO = 250  # a part over 1 MB unpacked that compressed more than this is a zip bomb


def too_big(path: Path, what: str) -> InputFileError:
    return InputFileError(path, f"文件过大 / too large: {what}; split the file")


def check_xlsx_parts(path: Path) -> None:
    """Refuse an xlsx whose parts would expand past the bounds, reading each part once as a stream (nothing is
    kept but counts), before openpyxl builds any cell: the InputFileError names the bound that was passed."""
    try:
        with zipfile.ZipFile(path) as archive:
            _check_part_sizes(path, archive.infolist())
            counts = _XlsxCounts()
            for member in archive.infolist():
                if member.filename.lower().endswith((".xml", ".rels")):
                    with archive.open(member) as stream:
                        counts.add_part(stream, lambda: _check_xlsx_counts(path, counts))
    except (zipfile.BadZipFile, OSError, EOFError, ElementTree.ParseError, RuntimeError) as exc:
        raise InputFileError(path, f"无法读取 / cannot read it as an xlsx workbook ({type(exc).__name__}: {exc})") from exc


def _check_part_sizes(path: Path, members: list[zipfile.ZipInfo]) -> None:
    unpacked = sum(member.file_size for member in members)  # zipfile never inflates a part past its declared size
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise too_big(path, f"{unpacked // 2**20} MB once unpacked (at most {MAX_XLSX_UNPACKED_BYTES // 2**20} MB)")
    for member in members:
        if member.file_size > 2**20 and member.file_size > MAX_DEFLATE_RATIO * max(member.compress_size, 1):
            raise too_big(
                path, f"part {member.filename} unpacks {member.file_size // max(member.compress_size, 1)} times its "
                f"size (at most {MAX_DEFLATE_RATIO}: a zip bomb)",
            )


@dataclass
class _XlsxCounts:
    """What a full load of the workbook would build, counted from its XML parts."""

    sheets: int = 0
    cells: int = 0
    merged_cells: int = 0
    hyperlink_cells: int = 0
    shared_strings: int = 0

    def add_part(self, stream, check: Callable[[], None]) -> None:
        """Count one part's elements, calling `check` as the counts grow; each element is dropped from the tree
        as soon as it ends, so memory stays flat."""
        open_elements = []
        for seen, (event, element) in enumerate(ElementTree.iterparse(stream, events=("start", "end"))):
            if event == "start":
                open_elements.append(element)
                continue
            open_elements.pop()
            name = element.tag.rpartition("}")[2]
            self._count(name, element)
            if open_elements:
                open_elements[-1].remove(element)
            if seen % 4096 == 0 or name in ("mergeCell", "hyperlink"):
                check()
        check()

    def _count(self, name: str, element) -> None:
        if name in ("c", "row"):
            self.cells += 1
        elif name == "mergeCell":
            self.merged_cells += _range_cells(element.get("ref", ""))
        elif name == "hyperlink":
            self.hyperlink_cells += _range_cells(element.get("ref", ""))
        elif name == "si":
            self.shared_strings += 1
        elif name == "sheet":
            self.sheets += 1


def _range_cells(ref: str) -> int:
    """Cells in a reference such as "B5:Z320000" (a whole column or row counts as the sheet's full height or width)."""
    from openpyxl.utils.cell import range_boundaries

    total = 0
    for part in ref.split():
        try:
            left, top, right, bottom = range_boundaries(part)
        except (ValueError, TypeError):
            total += 1  # openpyxl refuses it itself when it loads the sheet
            continue
        total += ((right or 16384) - (left or 1) + 1) * ((bottom or 1048576) - (top or 1) + 1)
    return total


def _check_xlsx_counts(path: Path, counts: _XlsxCounts) -> None:
    for found, bound, what in (
        (counts.sheets, MAX_SHEETS, "sheets"),
        (counts.cells, MAX_WORKBOOK_CELLS, "cells and rows in all sheets"),
        (counts.merged_cells, MAX_MERGED_CELLS, "cells under merged ranges"),
        (counts.hyperlink_cells, MAX_HYPERLINK_CELLS, "cells under hyperlinks"),
        (counts.shared_strings, MAX_SHARED_STRINGS, "shared strings"),
    ):
        if found > bound:
            raise too_big(path, f"more than {bound:,} {what} ({found:,} so far)")


