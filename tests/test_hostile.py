"""Hostile spreadsheets: each bomb is refused with an InputFileError naming the bound, fast and in little memory.

The bombs are small files built by writing the zip parts directly: what openpyxl's full load would expand
(merged ranges, range hyperlinks, other sheets, shared strings, a deflate bomb) is refused before it is.
"""

from __future__ import annotations

import random
import resource
import shutil
import subprocess
import time
import zipfile

import pytest
from openpyxl import Workbook

from assistant.errors import InputFileError
from assistant.office import sheets, xlsx_limits
from assistant.office.sheets import read_table

SHEET = "xl/worksheets/sheet1.xml"


def _base(path):
    workbook = Workbook()
    workbook.active.append(["序号", "问题"])
    workbook.active.append([1, "谁牵头？"])
    workbook.create_sheet("其他").append(["另一张表"])
    workbook.save(path)
    return path


def _bomb(tmp_path, name, sheet_tail=b"", other_sheet=None, shared_strings=None, extra=None):
    """The base workbook with parts added or replaced, each written as given (deflated)."""
    source, bomb = _base(tmp_path / "base.xlsx"), tmp_path / name
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for member in src.infolist():
            data = src.read(member)
            if member.filename == SHEET:
                data = data.replace(b"</worksheet>", sheet_tail + b"</worksheet>")
            elif member.filename == "xl/worksheets/sheet2.xml" and other_sheet is not None:
                data = other_sheet
            dst.writestr(member.filename, data)
        if shared_strings is not None:
            dst.writestr("xl/sharedStrings.xml", shared_strings)
        for name_, data in (extra or {}).items():
            dst.writestr(name_, data)
    assert bomb.stat().st_size < 200_000
    return bomb


def _sheet_xml(body: bytes) -> bytes:
    return (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b"<sheetData>" + body + b"</sheetData></worksheet>")


def _refused_fast(path, bound: str, **kwargs):
    """read_table refuses `path` naming `bound`, in under a second and growing the peak RSS by under 50 MB."""
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()  # CPU time: the machine's other work does not count against the file
    with pytest.raises(InputFileError, match=bound):
        read_table(path, **kwargs)
    assert time.process_time() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 50 * 1024  # kB


def test_merged_range_bomb_is_refused_in_under_a_second(tmp_path):
    bomb = _bomb(tmp_path, "merge.xlsx", b'<mergeCells count="1"><mergeCell ref="B5:Z320000"/></mergeCells>')
    _refused_fast(bomb, "cells under merged ranges")


def test_a_range_hyperlink_is_refused(tmp_path):
    bomb = _bomb(tmp_path, "link.xlsx", b'<hyperlinks><hyperlink ref="A1:Z400000" display="x"/></hyperlinks>')
    _refused_fast(bomb, "cells under hyperlinks")


def test_a_huge_other_sheet_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_limits, "MAX_WORKBOOK_CELLS", 5_000)
    cells = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 3_001))
    _refused_fast(_bomb(tmp_path, "other.xlsx", other_sheet=_sheet_xml(cells)), "cells and rows in all sheets")


def test_a_shared_strings_flood_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_limits, "MAX_SHARED_STRINGS", 1_000)
    strings = (b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               + b"<si><t>x</t></si>" * 1_200 + b"</sst>")
    _refused_fast(_bomb(tmp_path, "sst.xlsx", shared_strings=strings), "shared strings")


def test_a_deflate_bomb_is_refused(tmp_path):
    _refused_fast(_bomb(tmp_path, "zip.xlsx", extra={"xl/media/pad.bin": b"\0" * (8 * 2**20)}), "zip bomb")


def test_the_sheet_grid_is_bounded_when_the_row_bound_is_lifted(tmp_path, monkeypatch):
    monkeypatch.setattr(sheets, "MAX_GRID_CELLS", 10_000)
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>q</t></is></c></row>' % (i, i) for i in range(2, 400))
    wide = _sheet_xml(b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + '问题'.encode() + b'</t></is></c><c r="IA1"><v>1</v></c></row>' + rows)
    bomb = _bomb(tmp_path, "grid.xlsx", extra={})
    with zipfile.ZipFile(bomb) as src:
        parts = {m.filename: src.read(m) for m in src.infolist()}
    parts[SHEET] = wide
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in parts.items():
            dst.writestr(name, data)
    _refused_fast(bomb, "cells in the sheet", max_rows=None)


def test_truncated_sheet_xml_is_an_input_error(tmp_path):
    source = _base(tmp_path / "base.xlsx")
    with zipfile.ZipFile(source) as src:
        parts = {m.filename: src.read(m) for m in src.infolist()}
    parts[SHEET] = parts[SHEET][: len(parts[SHEET]) // 2]
    cut = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(cut, "w") as dst:
        for name, data in parts.items():
            dst.writestr(name, data)
    with pytest.raises(InputFileError, match="cannot read it as an xlsx workbook"):
        read_table(cut)


def test_an_ordinary_workbook_still_reads_from_the_bounded_stream(tmp_path):
    table = read_table(_base(tmp_path / "q.xlsx"))
    assert table.rows == [["序号", "问题"], [1, "谁牵头？"]] and table.question_col == 1


@pytest.fixture(scope="module")
def small_xls(tmp_path_factory):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        pytest.skip("needs LibreOffice (soffice) to write an .xls")
    folder = tmp_path_factory.mktemp("xls")
    workbook = Workbook()
    workbook.active.append(["序号", "问题"])
    workbook.active.append([1, "谁牵头？"])
    workbook.save(folder / "q.xlsx")
    subprocess.run([soffice, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--convert-to", "xls",
                    "--outdir", str(folder), str(folder / "q.xlsx")], check=True, timeout=180, capture_output=True)
    return (folder / "q.xls").read_bytes()


def test_an_xls_cell_moved_far_away_is_refused_without_padding_the_grid(small_xls, tmp_path):
    data = bytearray(small_xls)
    at = data.find(b"\xfd\x00\x0a\x00")  # a LABELSST record: row, column, style, string index
    assert at > 0
    data[at + 4 : at + 8] = (65000).to_bytes(2, "little") + (250).to_bytes(2, "little")
    (tmp_path / "far.xls").write_bytes(bytes(data))
    _refused_fast(tmp_path / "far.xls", "more than 2021 rows")
    _refused_fast(tmp_path / "far.xls", "cells in the sheet", max_rows=None)


def test_an_xls_with_a_mutated_codepage_is_an_input_error(small_xls, tmp_path):
    data = bytearray(small_xls)
    at = data.find(b"\x42\x00\x02\x00")  # the CODEPAGE record
    assert at > 0
    data[at + 4 : at + 6] = (1115).to_bytes(2, "little")  # no such encoding: xlrd raises LookupError
    (tmp_path / "cp.xls").write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="cannot read it as an .xls workbook"):
        read_table(tmp_path / "cp.xls")


def test_mutated_xls_files_are_read_or_refused_as_input_errors(small_xls, tmp_path):
    """Seeded byte mutations (one of them once made xlrd loop forever on a short-sector chain)."""
    chooser = random.Random(25)
    for attempt in range(60):
        data = bytearray(small_xls)
        for _ in range(8):
            data[chooser.randrange(512, len(data))] = chooser.randrange(256)
        path = tmp_path / f"m{attempt}.xls"
        path.write_bytes(bytes(data))
        started = time.process_time()
        try:
            read_table(path)
        except InputFileError:
            pass
        assert time.process_time() - started < 2.0, f"mutation {attempt}"


def test_the_page_refuses_a_question_over_the_api_limit_without_keeping_it():
    from types import SimpleNamespace

    from assistant.config import Settings
    from assistant.web.chat import KEPT_MESSAGES, chat_turn

    asked = []
    service = SimpleNamespace(assistant=SimpleNamespace(settings=Settings(max_question_chars=50)),
                              ask_recorded=lambda *args, **kwargs: asked.append(args))
    old = [{"role": "user", "content": "x"}] * (KEPT_MESSAGES + 50)
    _, messages, history, answer_id = chat_turn(service, "碳" * 10_000, old, [])
    assert not asked and answer_id is None and history == []
    assert "too long (10,000 characters, at most 50)" in messages[-1]["content"]
    assert len(messages) == KEPT_MESSAGES + 2 and sum(len(m["content"]) for m in messages[-2:]) < 500
