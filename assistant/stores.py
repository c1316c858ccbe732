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
import uuid
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .config import Settings
from .errors import StoreError

STORES = ("faiss", "milvus")
FAISS_FILE = "dense.faiss"
MILVUS_FILE = "dense.milvus.db"


class DenseStore(Protocol):
    index: Any  # the underlying faiss index or llama-index vector store

    def search(self, vector: np.ndarray, k: int) -> list[int]: ...


class StoreRecord(Protocol):
    """What a build's manifest records about its store (assistant/index.py's Manifest has these)."""

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
        return MilvusStore(_milvus(uri, manifest.store_collection, manifest.dimension, overwrite=False))
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


class MilvusStore:
    def __init__(self, store: Any) -> None:
        self.index = store
        self._lock = threading.Lock()  # one milvus-lite connection: keep its calls in order

    def search(self, vector: np.ndarray, k: int) -> list[int]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        query = VectorStoreQuery(query_embedding=[float(x) for x in vector], similarity_top_k=k)
        with self._lock:
            result = self.index.query(query)
        return [int(i) for i in result.ids or []]


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
        raise StoreError(f"cannot open Milvus at {uri} ({type(exc).__name__}: {exc})") from exc


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
