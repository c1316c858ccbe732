"""Stage 1, load: read .txt/.md/.pdf/.docx files into `Document`s, one clear error per unreadable file."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import InputFileError
from assistant.models import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx")


class LoadError(InputFileError):
    """A document that cannot be read; the message names the file and the reason."""


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    errors: tuple[LoadError, ...]


def load_corpus(corpus_dir: Path) -> Corpus:
    """Load every supported file; a bad file is reported and skipped, the others still load."""
    if not corpus_dir.is_dir():
        raise InputFileError(corpus_dir, f"corpus folder not found: {corpus_dir} (pass --corpus or set PLANQA_CORPUS)")
    documents, errors = [], []
    for path in sorted(corpus_dir.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        try:
            documents.append(load_document(path))
        except LoadError as exc:
            log.warning("skipped %s", exc)
            errors.append(exc)
    return Corpus(tuple(documents), tuple(errors))


def load_document(path: Path) -> Document:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(path, f"unsupported file type {suffix!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot read file ({exc.strerror})") from exc
    if not data.strip():
        raise LoadError(path, "file is empty")
    reader = {".pdf": _pdf_text, ".docx": _docx_text}.get(suffix, _plain_text)
    text = reader(path, data)
    if not text.strip():
        raise LoadError(path, "no text could be extracted (a scanned PDF needs OCR first)")
    return Document(name=path.name, path=str(path), text=text, sha256=hashlib.sha256(data).hexdigest())


def _plain_text(path: Path, data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise LoadError(path, "looks like a binary file, not text")
    # Government text files are often GBK/GB18030 (a superset of GBK and GB2312).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue
    raise LoadError(path, "text is neither UTF-8 nor GB18030/GBK; re-save it as UTF-8")


def _pdf_text(path: Path, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF"):
        raise LoadError(path, "not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(path, "PDF is encrypted; save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(path, f"corrupt or unreadable PDF ({exc})") from exc
    # A blank line between pages, as in text extracted from PDFs by other tools.
    return "\n\n".join(page.strip("\n") for page in pages)


def _docx_text(path: Path, data: bytes) -> str:
    import zipfile

    import docx

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise LoadError(path, f"corrupt or unreadable DOCX ({exc})") from exc
    except Exception as exc:  # python-docx raises its own PackageNotFoundError etc.
        raise LoadError(path, f"corrupt or unreadable DOCX ({type(exc).__name__}: {exc})") from exc
    return "\n\n".join(p.text for p in document.paragraphs if p.text.strip())
