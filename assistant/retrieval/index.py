"""Stage 5, index: retrieval chunks, embedded into the dense store and tokenised for BM25; built and opened.

Layout of `index/`: one folder per build (`build-<time>/`) and a `CURRENT` file naming the live one.
A build writes its own folder, verifies that every file its manifest names loads, then swaps `CURRENT`
with an atomic rename: a build killed half way, or one that fails its check, leaves the previous index
in use. Builds take a lock on the index folder, so two at once run one after the other. Opening checks
the build's manifest against the corpus and the settings, then loads it: a missing, stale or broken
index is rebuilt, or reported, per `settings.on_stale`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from assistant.config import Settings
from assistant.errors import IndexError_
from assistant.facts.knowledge import Knowledge
from assistant.models import Chunk
from assistant.retrieval.embedding import embed_passages, load_embedder, resolve_model_path
from assistant.retrieval.lexical import LexicalIndex
from assistant.retrieval.stores import (
    MILVUS_FILE,
    DenseStore,
    StoreError,
    open_store,
    prune_collections,
    write_store,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: vectors.npy for score fusion
VECTORS_FILE = "vectors.npy"  # the chunk embeddings, row i = chunk i
EMBED_BATCH = 32
LOCK_POLL_SECONDS = 0.2


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
    store: str = "faiss"  # see assistant/retrieval/stores.py
    store_uri: str = ""  # a Milvus server's URI; "" = the file in the build folder
    store_collection: str = ""


def corpus_fingerprint(knowledge: Knowledge) -> dict[str, str]:
    return {d.name: d.sha256 for d in knowledge.documents}


def model_fingerprint(model_path: Path) -> str:
    """Changes when the model's files change (their names and sizes); recorded in the manifest."""
    digest = hashlib.sha256()
    for path in sorted(model_path.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(model_path)}:{stat.st_size}".encode())
    return digest.hexdigest()[:16]


def build_index(
    knowledge: Knowledge, settings: Settings, embedder: SentenceTransformer | None = None, progress: bool = False
) -> Path:
    """Embed and tokenise every chunk into a new build folder, verify it, then make it current."""
    started = time.perf_counter()
    embedder = embedder or load_embedder(settings.model, settings.model_cache, settings.embed_backend)
    chunks = make_chunks(knowledge, settings.chunk_max_chars)
    if not chunks:
        raise IndexError_("the corpus has no text to index")
    vectors = _embed_in_batches(embedder, [c.passage() for c in chunks], progress)
    with build_lock(settings.index_dir, settings.build_lock_timeout):  # embedding needs no lock: only the files
        previous = _current_collection(settings.index_dir)
        final = _write_build(knowledge, settings, chunks, vectors, started)
        _prune_server_collections(final, settings, previous)
    log.info("built index of %d chunks in %.1f s", len(chunks), time.perf_counter() - started)
    return final


def _write_build(knowledge: Knowledge, settings: Settings, chunks: list[Chunk], vectors: np.ndarray, started: float) -> Path:
    build = Path(tempfile.mkdtemp(dir=settings.index_dir, prefix=".building-"))
    try:
        store = write_store(settings.store, vectors, build, settings)
        np.save(build / VECTORS_FILE, vectors)  # for score fusion, whatever the store
        with (build / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        LexicalIndex.build(chunks, knowledge).save(build / "bm25")
        model_path = resolve_model_path(settings.model, settings.model_cache)
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
        verify_build(build, settings)
        share_per_umask(build)
        # Unique even for two builds in one second (a rebuild right after a failed check).
        final = settings.index_dir / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{build.name[-6:]}"
        build.rename(final)
        _switch_current(settings.index_dir, final.name)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    _remove_old_builds(settings.index_dir, keep=final.name)
    return final


@contextmanager
def build_lock(index_dir: Path, timeout: float) -> Iterator[None]:
    """One build at a time per index folder: a second one waits up to `timeout` seconds, then refuses.

    The lock is flock on the folder itself: no lock file to leave behind, and the kernel releases it
    when its holder dies, so a killed build never blocks the next one.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir, os.O_RDONLY)
    try:
        _acquire(fd, index_dir, timeout)
        yield
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, index_dir: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise IndexError_(
                    f"另一个构建仍在进行 / another build is still running in {index_dir} after {timeout:g} s: "
                    "wait for it to finish, or raise PLANQA_BUILD_LOCK_TIMEOUT"
                ) from None
        if not waiting:
            log.warning("另一个构建正在进行，等待中 / another build is running in %s, waiting (up to %g s)…", index_dir, timeout)
            waiting = True
        time.sleep(LOCK_POLL_SECONDS)


def current_umask() -> int:
    """The process umask, read without changing it (os.umask sets it, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def share_per_umask(folder: Path) -> None:
    """Modes as the umask allows: mkdtemp makes the build 0700, so a replica running as another user could not read it."""
    mask = current_umask()
    folder.chmod(0o777 & ~mask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _prune_server_collections(final: Path, settings: Settings, previous: str) -> None:
    """On a Milvus server keep the new and the previous collection (rollback, workers still on it); drop older ones."""
    manifest = read_manifest(final)
    if manifest.store_uri:
        prune_collections(manifest.store_uri, settings.index_dir, {manifest.store_collection, previous})


def _current_collection(index_dir: Path) -> str:
    """The Milvus collection of the build in use ("" when none or not on a server)."""
    try:
        return read_manifest(current_build(index_dir)).store_collection
    except IndexError_:
        return ""


def _embed_in_batches(embedder: SentenceTransformer, texts: list[str], progress: bool) -> np.ndarray:
    """Counted in chunks, not batches: "147/147 chunks" is what a person building an index can check."""
    vectors = []
    with tqdm(total=len(texts), desc="嵌入文本块 / embedding chunks", unit="chunk", disable=not progress, file=sys.stderr) as bar:
        for i in range(0, len(texts), EMBED_BATCH):
            batch = texts[i : i + EMBED_BATCH]
            vectors.append(embed_passages(embedder, batch))
            bar.update(len(batch))
    return np.vstack(vectors).astype(np.float32)


def _switch_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".CURRENT.{os.getpid()}"
    tmp.write_text(name, "utf-8")
    os.replace(tmp, index_dir / "CURRENT")


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    for path in index_dir.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith("build-") or path.name.startswith(".building-")):
            shutil.rmtree(path, ignore_errors=True)


# --- opening --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedIndex:
    """One build read back from disk: what the retriever ranks over (row i of each part = chunk i)."""

    build: Path
    manifest: Manifest
    chunks: list[Chunk]
    store: DenseStore
    lexical: LexicalIndex
    vectors: np.ndarray  # chunk embeddings (in memory, not mapped), for score fusion


def open_index(
    knowledge: Knowledge, settings: Settings, embedder: SentenceTransformer | None = None, progress: bool = False
) -> LoadedIndex:
    """The current build; when it is missing or stale, rebuilt first or an error, per settings.on_stale.

    Replicas set on_stale="error" so that one `planqa build` serves them all (README, Deployment).
    """
    problem = stale_reason(knowledge, settings)
    if problem is None:
        try:
            return load_build(current_build(settings.index_dir), settings)
        except IndexError_ as exc:  # a file of the build is missing, truncated or garbage
            log.error("the current index cannot be loaded: %s", exc)
            if settings.on_stale != "rebuild":
                raise
            log.warning("rebuilding the index")
    elif settings.on_stale == "rebuild":  # a first start says what it is doing, not the replicas' "run planqa build"
        first = not (Path(settings.index_dir) / "CURRENT").is_file()
        log.warning(f"尚无索引，正在 {settings.index_dir} 中建立（首次启动约需 20 秒）/ no index yet: building it"
                    if first else f"索引与当前文档或设置不符（{problem}），正在重建 / rebuilding the index")
    else:
        raise IndexError_(f"{problem}: run `planqa build`")
    return load_build(build_index(knowledge, settings, embedder, progress=progress), settings)


def stale_reason(knowledge: Knowledge, settings: Settings) -> str | None:
    """Why the current build cannot serve this corpus with these settings (None when it can)."""
    try:
        return check_manifest(read_manifest(current_build(settings.index_dir)), knowledge, settings)
    except IndexError_ as exc:
        return str(exc)


def load_build(build: Path, settings: Settings) -> LoadedIndex:
    manifest = read_manifest(build)
    chunks, lexical, vectors = load_parts(build, manifest)
    return LoadedIndex(build, manifest, chunks, open_store(build, manifest, settings), lexical, vectors)


def load_parts(build: Path, manifest: Manifest) -> tuple[list[Chunk], LexicalIndex, np.ndarray]:
    """Chunks, BM25 and vectors, each checked against the manifest's chunk count (row i of each = chunk i)."""
    chunks = load_chunks(build)
    lexical = LexicalIndex.load(build / "bm25")
    vectors = load_vectors(build, manifest)
    rows = {"chunks.jsonl": len(chunks), "bm25": int(lexical.bm25.scores["num_docs"])}
    wrong = [f"{name} has {count} rows" for name, count in rows.items() if count != manifest.chunk_count]
    if wrong:
        raise IndexError_(
            f"index in {build} is inconsistent ({', '.join(wrong)}; the manifest says {manifest.chunk_count}): "
            "run `planqa build` to rebuild it"
        )
    return chunks, lexical, vectors


def verify_build(build: Path, settings: Settings) -> None:
    """Every file the manifest names exists and loads; raises IndexError_ (before `CURRENT` may name it).

    A Milvus collection is not opened here: milvus-lite holds its file open, and the folder is renamed next.
    """
    manifest = read_manifest(build)
    load_parts(build, manifest)
    if manifest.store != "milvus":
        open_store(build, manifest, settings)
    elif not manifest.store_uri and not (build / MILVUS_FILE).exists():  # milvus-lite: a folder
        raise StoreError(f"{build / MILVUS_FILE} was not written: run `planqa build --store milvus` again")


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
    """The chunk embeddings, read into memory: a memory map of a file truncated later would kill the
    process with SIGBUS on the next query (1.5 KB a chunk in memory; ~22 MB at 14,700 chunks)."""
    path = build / VECTORS_FILE
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
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
