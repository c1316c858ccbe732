"""The files the page hands out and receives: one fresh folder per caller, uploads checked to be uploads."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from assistant.errors import UploadError

# Files the page hands out (ledger xlsx, answered questionnaires) and gradio's copies of them and of
# uploads are removed after this long; a download link is for the caller who asked, not for ever.
WEB_FILE_MAX_AGE = 3600


def web_files(root: Path, max_age: float = WEB_FILE_MAX_AGE) -> Path:
    """A fresh folder for one caller's file, under `root`; folders older than `max_age` are removed."""
    root.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - max_age
    for old in root.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # removed by a concurrent call
            continue
    return Path(tempfile.mkdtemp(dir=root))


def own_upload(path: str | None) -> Path:
    """The questionnaire only if it is a file gradio received as an upload (its upload folder), else refuse.

    gradio checks this itself once the app counts as launched (see `enforce_gradio_path_checks`);
    this check holds even if that ever changes: batch must never read a file of the server's own.
    """
    from gradio.utils import get_upload_folder

    if not path:
        raise UploadError("请先上传文件 / upload a file first")
    source = Path(path).resolve()
    if not source.is_relative_to(Path(get_upload_folder()).resolve()) or not source.is_file():
        raise UploadError("只能处理本次上传的文件 / only a file uploaded here can be answered: upload it again")
    return source
