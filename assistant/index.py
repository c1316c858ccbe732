"""Stage 5, index: retrieval chunks, embedded into FAISS and tokenised for BM25, persisted atomically.

Layout of `index/`: one folder per build (`build-<time>/`) and a `CURRENT` file naming the live one.
A build writes its own folder, then swaps `CURRENT` with an atomic rename: a build killed half way
leaves the previous index in use.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .config import Settings
from .errors import IndexError_
from .knowledge import Knowledge

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: vectors.npy for score fusion
VECTORS_FILE = "vectors.npy"  # the chunk embeddings, row i = chunk i
# Above this many chunks the exact flat index gives way to an approximate one (HNSW).
HNSW_THRESHOLD = 20_000


@dataclass(frozen=True)
class Chunk:
    """What retrieval ranks: a clause, or a sentence-aligned piece of a long one."""

    id: str
    clause_id: str
    doc: str
    section: str
    kind: str
    text: str  # normalised clause text of this piece
    start: int  # span in the original document
    end: int

    def passage(self) -> str:
        """The text embedded and matched: the section path gives the piece its context."""
        return f"{self.section}：{self.text}" if self.section else self.text


def make_chunks(knowledge: Knowledge, max_chars: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    for clause in knowledge.clauses:
        for n, (begin, end) in enumerate(split_at_sentences(clause.text, max_chars)):
            start, stop = clause.original_span(begin, end)
            chunk_id = clause.id if n == 0 else f"{clause.id}#{n}"
            chunks.append(
                Chunk(chunk_id, clause.id, clause.doc, clause.section, clause.kind, clause.text[begin:end], start, stop)
            )
    return chunks


def split_at_sentences(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Pieces of at most ~max_chars, cut after 。；; a sentence longer than that stays whole."""
    if len(text) <= max_chars:
        return [(0, len(text))]
    pieces, start, last_cut = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "。;；":
            if i + 1 - start > max_chars and last_cut > start:
                pieces.append((start, last_cut))
                start = last_cut
            last_cut = i + 1
    if len(text) - start > max_chars and start < last_cut < len(text):
        pieces.append((start, last_cut))
        start = last_cut
    pieces.append((start, len(text)))
    return [(a, b) for a, b in pieces if text[a:b].strip()]


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    model_path: str
    model_fingerprint: str
    dimension: int
    corpus: dict[str, str]  # file name → sha256
    chunk_count: int
    dense_index: str
    built_at: str
    build_seconds: float
    store: str = "faiss"  # see assistant/stores.py
    store_uri: str = ""  # a Milvus server's URI; "" = the file in the build folder
    store_collection: str = ""


def corpus_fingerprint(knowledge: Knowledge) -> dict[str, str]:
    return {d.name: d.sha256 for d in knowledge.documents}


def model_fingerprint(model_path: Path) -> str:
    """Changes when the model's weights or config change (size + mtime of its files)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(model_path.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(model_path)}:{stat.st_size}".encode())
    return digest.hexdigest()[:16]


def build_index(knowledge: Knowledge, settings: Settings, embedder=None, progress: bool = False) -> Path:
    """Embed and tokenise every chunk into a new build folder, then make it current."""
    from .embedding import embed_passages, load_embedder, resolve_model_path
    from .retrieve import LexicalIndex

    started = time.perf_counter()
    model_path = resolve_model_path(settings.model, settings.model_cache)
    embedder = embedder or load_embedder(settings.model, settings.model_cache)
    chunks = make_chunks(knowledge, settings.chunk_max_chars)
    if not chunks:
        raise IndexError_("the corpus has no text to index")
    vectors = _embed_in_batches(embedder, [c.passage() for c in chunks], embed_passages, progress)

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=settings.index_dir, prefix=".building-"))
    try:
        from .stores import write_store

        store = write_store(settings.store, vectors, build, settings)
        np.save(build / VECTORS_FILE, vectors)  # for score fusion, whatever the store
        with (build / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        LexicalIndex.build(chunks, knowledge).save(build / "bm25")
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=settings.model,
            model_path=str(model_path),
            model_fingerprint=model_fingerprint(model_path),
            dimension=int(vectors.shape[1]),
            corpus=corpus_fingerprint(knowledge),
            chunk_count=len(chunks),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            build_seconds=round(time.perf_counter() - started, 2),
            **store,
        )
        (build / "manifest.json").write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), "utf-8")
        # Unique even for two builds in one second (a rebuild right after a failed check).
        final = settings.index_dir / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{build.name[-6:]}"
        build.rename(final)
        _switch_current(settings.index_dir, final.name)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    _remove_old_builds(settings.index_dir, keep=final.name)
    log.info("built index of %d chunks in %.1f s", len(chunks), manifest.build_seconds)
    return final


def _embed_in_batches(embedder, texts: list[str], embed, progress: bool) -> np.ndarray:
    from tqdm import tqdm

    batches = [texts[i : i + 32] for i in range(0, len(texts), 32)]
    parts = [embed(embedder, batch) for batch in tqdm(batches, desc="embedding", unit="batch", disable=not progress)]
    return np.vstack(parts).astype(np.float32)


def make_dense_index(vectors: np.ndarray):
    import faiss

    dimension = vectors.shape[1]
    if len(vectors) > HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dimension)
    index.add(vectors)
    return index


def _switch_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".CURRENT.{os.getpid()}"
    tmp.write_text(name, "utf-8")
    os.replace(tmp, index_dir / "CURRENT")


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    for path in index_dir.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith("build-") or path.name.startswith(".building-")):
            shutil.rmtree(path, ignore_errors=True)


def current_build(index_dir: Path) -> Path:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        raise IndexError_(f"no index in {index_dir}: run `planqa build` first")
    build = index_dir / pointer.read_text("utf-8").strip()
    if not build.is_dir():
        raise IndexError_(f"index folder {build} is missing: run `planqa build` to rebuild it")
    return build


def read_manifest(build: Path) -> Manifest:
    try:
        data = json.loads((build / "manifest.json").read_text("utf-8"))
        return Manifest(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise IndexError_(f"index manifest in {build} is missing or corrupt ({exc}): run `planqa build`") from exc


def check_manifest(manifest: Manifest, knowledge: Knowledge, settings: Settings) -> str | None:
    """Why this index cannot serve the current corpus and model (None when it can)."""
    if manifest.format_version != FORMAT_VERSION:
        return f"index format {manifest.format_version} is not {FORMAT_VERSION}"
    if manifest.store != settings.store:
        return f"index was built with store {manifest.store!r}, but the setting is {settings.store!r}"
    if manifest.model != settings.model:
        return f"index was built with model {manifest.model!r}, but the setting is {settings.model!r}"
    if manifest.corpus != corpus_fingerprint(knowledge):
        changed = sorted(set(manifest.corpus.items()) ^ set(corpus_fingerprint(knowledge).items()))
        return "corpus changed since the index was built: " + ", ".join(sorted({name for name, _ in changed}))
    return None


def load_vectors(build: Path, manifest: Manifest) -> np.ndarray:
    """The chunk embeddings, memory-mapped (score fusion reads a few rows per query)."""
    path = build / VECTORS_FILE
    try:
        vectors = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise IndexError_(f"{path} is missing or corrupt ({exc}): run `planqa build`") from exc
    if vectors.shape != (manifest.chunk_count, manifest.dimension):
        raise IndexError_(f"{path} does not match its manifest: run `planqa build` to rebuild it")
    return vectors


def load_chunks(build: Path) -> list[Chunk]:
    try:
        with (build / "chunks.jsonl").open(encoding="utf-8") as handle:
            return [Chunk(**json.loads(line)) for line in handle if line.strip()]
    except (OSError, ValueError, TypeError) as exc:
        raise IndexError_(f"index chunks in {build} are missing or corrupt ({exc}): run `planqa build`") from exc


def load_dense(build: Path, manifest: Manifest, settings: Settings | None = None):
    """The build's dense store (assistant/stores.py): `.search(vector, k)` → chunk indices."""
    from .stores import open_store

    return open_store(build, manifest, settings)
