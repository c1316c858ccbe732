"""One family of errors, caught by its base class at every edge (HTTP, CLI, batch row).

An edge maps a `PlanqaError` to its own form (4xx + message, exit code 2 + message, an error cell).
Anything else is a bug: logged with its traceback and reported as an internal error, never blamed on
the user's input. Messages are bilingual (中文 / English) and say what to do.
"""

from __future__ import annotations

from pathlib import Path


class PlanqaError(Exception):
    """Base of every error the user (or operator) can act on; the message says how."""


class QuestionError(PlanqaError):
    """The question itself is unusable: empty, over-long, or not text."""


class InputFileError(PlanqaError):
    """A document or questionnaire that cannot be read or used; the message names the file."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


class OutputFileError(PlanqaError):
    """A file the user asked for that the system will not let us write (no permission, a full disk)."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UploadError(PlanqaError):
    """An upload the page cannot use: none was given, or it is not a file the page received."""


class ConversionError(PlanqaError):
    """An outside converter (LibreOffice, for the PDF report) is missing or failed; the message says what
    to install, or which format to ask for instead."""


class IndexError_(PlanqaError):  # noqa: N801 - the trailing underscore keeps the builtin IndexError visible
    """The index is missing, corrupt, stale or from another model; the message says how to fix it."""


class StoreError(IndexError_):
    """The dense vector store (FAISS file or Milvus) cannot be opened or queried."""


class SettingsError(PlanqaError):
    """A setting (environment variable or CLI flag) has a value it cannot take."""


# What every edge says about a bug (an exception outside this family), after logging its traceback.
INTERNAL_ERROR = "内部错误，请联系管理员 / internal error, please tell the administrator"
