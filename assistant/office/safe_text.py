"""Text as it leaves for a file (xlsx, csv, docx and the PDF made from it, HTML): one sanitiser for every export.

Two things go wrong at that edge. XML 1.0 cannot hold control characters, so openpyxl and python-docx refuse
the whole file when one cell holds a form feed (pdftotext writes one at every page break, and a page may
break inside a target sentence). And a spreadsheet runs a cell that starts with = + - @ as a formula:
questions in the audit log are typed by anyone, and ledger text comes from corpus files, so such a cell is
written as text (a string cell with Excel's quote prefix; in csv, a leading apostrophe).
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, and the two non-characters XML also forbids. A line break written as
# \r or \r\n becomes \n first; every other control becomes a space (a page break inside a sentence).
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")
SURROGATES = re.compile("[\ud800-\udfff]")  # a lone surrogate cannot even be encoded as UTF-8
REPLACEMENT = "\ufffd"
# What Excel and LibreOffice read as a formula (or a DDE call) at the start of a cell (a leading \r is a
# line break by then, see clean_text).
FORMULA_STARTS = ("=", "+", "-", "@", "\t")


def clean_text(text: str) -> str:
    """`text` with line breaks as \\n, other controls (tab and newline kept) as spaces, lone surrogates as U+FFFD."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return SURROGATES.sub(REPLACEMENT, CONTROLS.sub(" ", text))


def clean_value(value: object) -> object:
    """A cell's value with its text cleaned; numbers, dates and empty cells as they are."""
    return clean_text(value) if isinstance(value, str) else value


def starts_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_value(value: object) -> object:
    """A csv cell: cleaned, and text a spreadsheet would run as a formula behind an apostrophe."""
    value = clean_value(value)
    return f"'{value}" if starts_formula(value) else value


def set_xlsx_cell(cell, value: object) -> None:
    """An xlsx cell: cleaned, and text that looks like a formula stored as text, never as a formula."""
    cell.value = clean_value(value)
    keep_as_text(cell)


def append_xlsx_row(sheet, values) -> None:
    """`sheet.append` with every value cleaned and formula-looking text kept as text."""
    sheet.append([clean_value(v) for v in values])
    for cell in next(sheet.iter_rows(min_row=sheet.max_row, max_row=sheet.max_row)):
        keep_as_text(cell)


def keep_as_text(cell) -> None:
    """openpyxl makes any string starting with = a formula; the quote prefix keeps Excel from re-reading
    the text as one when the cell is edited."""
    if starts_formula(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
