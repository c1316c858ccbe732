"""Loading: every format, and a clear error (naming the file) for each kind of unreadable file."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ingest.load import LoadError, load_corpus, load_document
from assistant.ingest.structure import structure_document
from assistant.models import Document
from tests.conftest import BULLETIN

# Part of the bulletin: the 节能降碳增效行动 action, between its heading and the next action.
PART_START, PART_END = "（二）节能降碳增效行动", "(三) 工业领域碳达峰行动"


def bulletin_part() -> list[str]:
    text = BULLETIN.read_text("utf-8")
    part = text[text.index(PART_START) : text.index(PART_END)]
    return [p.strip() for p in part.split("\n\n") if p.strip()]


def clause_signature(document: Document) -> list[tuple[str, str, str]]:
    return [(c.section, c.kind, c.text) for c in structure_document(document)]


def make_pdf(paragraphs: list[str], path: Path, chars_per_line: int = 32) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    y = 800
    for paragraph in paragraphs:
        for i in range(0, len(paragraph), chars_per_line):
            if y < 60:
                pdf.showPage()
                y = 800
            pdf.setFont("STSong-Light", 11)
            pdf.drawString(40, y, paragraph[i : i + chars_per_line])
            y -= 16
    pdf.save()


def test_pdf_and_docx_give_the_same_clauses_as_text(tmp_path):
    import docx

    paragraphs = bulletin_part()
    (tmp_path / "part.txt").write_text("\n\n".join(paragraphs), "utf-8")
    make_pdf(paragraphs, tmp_path / "part.pdf")
    word = docx.Document()
    for paragraph in paragraphs:
        word.add_paragraph(paragraph)
    word.save(str(tmp_path / "part.docx"))

    expected = clause_signature(load_document(tmp_path / "part.txt"))
    assert len(expected) == 6 and expected[1][0].endswith("1. 全面提升节能管理水平")
    assert clause_signature(load_document(tmp_path / "part.pdf")) == expected
    assert clause_signature(load_document(tmp_path / "part.docx")) == expected


def test_gbk_text_is_decoded(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("到2025年，非化石能源消费比重提高到27%以上。".encode("gbk"))
    assert "非化石能源" in load_document(path).text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n ", "empty"),
        ("binary.txt", b"\x00\x01\x02 not text", "binary"),
        ("latin.txt", bytes(range(0x80, 0xFF)) * 3, "UTF-8"),
        ("fake.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "not a PDF"),
        ("broken.pdf", b"%PDF-1.7\n garbage", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip really", "DOCX"),
    ],
)
def test_unreadable_files_give_a_clear_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError) as info:
        load_document(path)
    assert name in str(info.value) and reason in str(info.value)


def test_encrypted_pdf_is_reported(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(LoadError, match="encrypted"):
        load_document(path)


def test_bad_files_do_not_stop_the_others(tmp_path):
    (tmp_path / "good.txt").write_text(BULLETIN.read_text("utf-8"), "utf-8")
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf")
    (tmp_path / "notes.xyz").write_text("ignored")
    corpus = load_corpus(tmp_path)
    assert [d.name for d in corpus.documents] == ["good.txt"]
    assert [e.path.name for e in corpus.errors] == ["bad.pdf"]
