"""Dense vector stores behind one small interface: FAISS in the build folder (default), or Milvus.

    write_store(kind, vectors, build, settings) -> dict   # stores the vectors; returns manifest fields
    open_store(build, manifest, settings) -> store     # store.search(vector, k) -> chunk indices

Vector ids are chunk indices (the line numbers of `chunks.jsonl`). The Milvus store goes through
llama-index's MilvusVectorStore (`pip install 'planqa[milvus]'`): by default milvus-lite, embedded,
on a file inside the build folder (`dense.milvus.db`), so it is swapped atomically with the rest of
the build; with PLANQA_MILVUS_URI (e.g. http://milvus:19530) a Milvus server holds the collection.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.config import Settings
from assistant.errors import StoreError

STORES = ("faiss", "milvus")
FAISS_FILE = "dense.faiss"
MILVUS_FILE = "dense.milvus.db"


MILVUS_TIMEOUT_S = 5.0  # a search or health probe waits this long for the server (pymilvus alone retries ~4 min)
MILVUS_PROBE_TIMEOUT_S = 2.0
MILVUS_RETRY_S = 2.0  # after a failure, the server is tried again at most this often


class DenseStore(Protocol):
    index: Any  # the underlying faiss index or llama-index vector store

    def search(self, vector: np.ndarray, k: int) -> list[int]: ...

    def problem(self) -> str | None:
        """Why searches fail right now (a server down), or None."""
        ...


class StoreRecord(Protocol):
    """What a build's manifest records about its store (assistant/retrieval/index.py's Manifest has these)."""

    store: str
    store_uri: str
    store_collection: str
    dimension: int
    chunk_count: int


def make_dense_index(vectors: np.ndarray, hnsw_threshold: int) -> Any:
    """An exact inner-product index, or above `hnsw_threshold` vectors an approximate one (HNSW)."""
    import faiss

    dimension = vectors.shape[1]
    if len(vectors) > hnsw_threshold:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dimension)
    index.add(vectors)
    return index


def write_store(kind: str, vectors: np.ndarray, build: Path, settings: Settings) -> dict[str, str]:
    """Store `vectors` (row i = chunk i) for the build in folder `build`; returns the manifest's store fields."""
    if kind == "faiss":
        import faiss

        index = make_dense_index(vectors, settings.hnsw_threshold)
        faiss.write_index(index, str(build / FAISS_FILE))
        return {"store": "faiss", "dense_index": type(index).__name__, "store_uri": "", "store_collection": ""}
    if kind == "milvus":
        uri = settings.milvus_uri or ""
        collection = collection_prefix(build.parent) + uuid.uuid4().hex[:12]
        store = _milvus(uri or str(build / MILVUS_FILE), collection, vectors.shape[1], overwrite=True)
        from llama_index.core.schema import TextNode

        nodes = [TextNode(id_=str(i), text="", embedding=v.tolist()) for i, v in enumerate(vectors)]
        store.add(nodes)
        store.client.flush(collection)
        _close(store, None if uri else build / MILVUS_FILE)
        return {"store": "milvus", "dense_index": "MilvusVectorStore", "store_uri": uri, "store_collection": collection}
    raise StoreError(f"unknown store {kind!r}: use one of {', '.join(STORES)}")


def open_store(build: Path, manifest: StoreRecord, settings: Settings | None = None) -> DenseStore:
    """The store the manifest names; a PLANQA_MILVUS_URI setting wins over the URI recorded at build time."""
    kind = manifest.store
    if kind == "faiss":
        return FaissStore.load(build / FAISS_FILE, manifest.dimension, manifest.chunk_count)
    if kind == "milvus":
        remote = (settings.milvus_uri if settings else None) or manifest.store_uri
        uri = remote or str(build / MILVUS_FILE)
        if not remote and not (build / MILVUS_FILE).exists():
            raise StoreError(f"{build / MILVUS_FILE} is missing: run `planqa build --store milvus`")
        return MilvusStore(lambda: _milvus(uri, manifest.store_collection, manifest.dimension, overwrite=False), uri)
    raise StoreError(f"unknown store {kind!r} in the manifest: run `planqa build`")


class FaissStore:
    def __init__(self, index: Any) -> None:
        self.index = index

    @classmethod
    def load(cls, path: Path, dimension: int, count: int) -> FaissStore:
        import faiss

        if not path.is_file():
            raise StoreError(f"{path} is missing: run `planqa build`")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:  # faiss reports truncation and garbage as RuntimeError
            raise StoreError(f"{path} is corrupt or truncated: run `planqa build` to rebuild it") from exc
        if index.d != dimension or index.ntotal != count:
            raise StoreError(f"{path} does not match its manifest: run `planqa build` to rebuild it")
        return cls(index)

    def search(self, vector: np.ndarray, k: int) -> list[int]:
        k = min(k, self.index.ntotal)
        _, ids = self.index.search(np.asarray(vector, np.float32)[None, :], k)
        return [int(i) for i in ids[0] if i >= 0]

    def problem(self) -> str | None:
        return None  # a file in the build: loaded once, nothing to lose afterwards


class MilvusStore:
    """A collection in llama-index's Milvus store, searched through its pymilvus client with a timeout.

    A server that goes down raises StoreError within MILVUS_TIMEOUT_S (the API's 503 with the reason).
    pymilvus does not always recover a connection that failed, so the next search after a failure opens
    the store again: answers resume when the server is back, without a restart.
    """

    def __init__(self, opener: Callable[[], Any], uri: str = "") -> None:
        self._open = opener
        self.index = opener()
        self.uri = uri
        self._failed = ""  # why the last call failed: the next one opens the store again
        self._retry_at = 0.0
        self._lock = threading.Lock()  # one milvus-lite connection: keep its calls in order

    def search(self, vector: np.ndarray, k: int) -> list[int]:
        try:
            with self._lock:
                hits = self._search([float(x) for x in vector], k)
        except StoreError:
            raise
        except Exception as exc:  # pymilvus raises MilvusException (and grpc errors) for a server that is down
            raise StoreError(self._failure(exc)) from exc
        return [int(hit["id"]) for hit in hits]

    def _search(self, vector: list[float], k: int) -> list[dict]:
        """The search llama-index's query() makes, bounded in time; a collection the restarted server has
        not loaded yet is loaded once."""
        store = self._store()
        arguments = {"collection_name": store.collection_name, "data": [vector], "limit": k, "output_fields": [],
                     "search_params": store.search_config, "anns_field": store.embedding_field,
                     "timeout": MILVUS_TIMEOUT_S}
        try:
            return store.client.search(**arguments)[0]
        except Exception as exc:
            if "not loaded" not in str(exc).lower():
                raise
            store.client.load_collection(store.collection_name, timeout=MILVUS_TIMEOUT_S)
            return store.client.search(**arguments)[0]

    def _store(self) -> Any:
        """The open store; after a failure, a new connection (the old one closed, best effort), tried at
        most every MILVUS_RETRY_S so that requests during an outage fail at once instead of queueing."""
        if self._failed:
            if time.monotonic() < self._retry_at:
                raise StoreError(self._failed)
            _close(self.index, None)
            try:
                self.index = self._open()
            except StoreError as exc:
                self._failure(exc)
                raise
            self._failed = ""
        return self.index

    def _failure(self, exc: BaseException) -> str:
        self._failed = str(exc) if isinstance(exc, StoreError) else unreachable(self.uri, exc)
        self._retry_at = time.monotonic() + MILVUS_RETRY_S
        return self._failed

    def problem(self) -> str | None:
        """Asks the server whether it holds the collection, quickly: for /api/health."""
        try:
            with self._lock:
                store = self._store()
                found = store.client.has_collection(store.collection_name, timeout=MILVUS_PROBE_TIMEOUT_S)
        except StoreError as exc:
            return str(exc)
        except Exception as exc:
            return self._failure(exc)
        if not found:
            return f"Milvus at {self.uri} has no collection {self.index.collection_name!r}: run `planqa build --store milvus`"
        return None


def unreachable(uri: str, exc: BaseException) -> str:
    """The message for a Milvus server that does not answer: what happened and what to do."""
    reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    return (f"向量库 Milvus 无法访问 / the Milvus server at {uri or 'milvus-lite'} does not answer ({reason}): "
            "start it or check PLANQA_MILVUS_URI; answers resume once it is back, no restart needed")


def _milvus(uri: str, collection: str, dimension: int, overwrite: bool) -> Any:
    try:
        from llama_index.vector_stores.milvus import MilvusVectorStore
    except ImportError as exc:
        raise StoreError("the Milvus store needs `pip install 'planqa[milvus]'` (llama-index-vector-stores-milvus, milvus-lite)") from exc
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", collection or ""):
        raise StoreError(f"bad Milvus collection name {collection!r} in the manifest: run `planqa build`")
    # milvus-lite's in-process server logs a traceback for each call pymilvus makes that it lacks
    logging.getLogger("grpc._server").addFilter(_quiet_unimplemented)
    try:
        store = MilvusVectorStore(
            uri=uri, collection_name=collection, dim=dimension, overwrite=overwrite, similarity_metric="IP",
            index_config={"index_type": "FLAT", "metric_type": "IP"}, use_async_client=False, batch_size=1000,
        )
        if not overwrite:
            if not store.client.has_collection(collection):
                raise StoreError(f"Milvus at {uri} has no collection {collection!r}: run `planqa build --store milvus`")
            store.client.load_collection(collection)
        return store
    except StoreError:
        raise
    except Exception as exc:  # pymilvus raises its own MilvusException for an unreachable or bad server
        raise StoreError(unreachable(uri, exc)) from exc


def collection_prefix(index_dir: Path) -> str:
    """The collections of one index folder share a prefix: pruning one folder's never touches another's."""
    return "planqa_" + hashlib.sha256(str(Path(index_dir).resolve()).encode()).hexdigest()[:8] + "_"


def prune_collections(uri: str, index_dir: Path, keep: set[str]) -> list[str]:
    """Drop this index folder's collections on the Milvus server at `uri` except `keep`; returns the dropped.

    After a build the new collection and the previous one are kept: replicas still on the previous build
    keep answering until they reopen, and an operator can roll back. Best effort: a failure is logged.
    """
    prefix = collection_prefix(index_dir)
    try:
        from pymilvus import MilvusClient

        client = MilvusClient(uri=uri)
        dropped = [c for c in client.list_collections() if c.startswith(prefix) and c not in keep]
        for name in dropped:
            client.drop_collection(name)
        client.close()
    except Exception as exc:  # the build itself succeeded; old collections only cost space
        logging.getLogger(__name__).warning("could not drop old Milvus collections at %s: %s", uri, exc)
        return []
    return dropped


def _quiet_unimplemented(record: logging.LogRecord) -> bool:
    return "not implemented" not in record.getMessage().lower()


def _close(store: Any, lite_file: Path | None) -> None:
    """Disconnect; for milvus-lite also stop its in-process server, which holds a lock on the file."""
    try:
        store.client.close()
    except Exception:  # closing is best effort
        pass
    if lite_file is not None:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(lite_file))
