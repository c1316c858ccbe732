"""Stage 6, retrieve: rank the chunks of an opened index for a query.

BM25 and dense search each propose candidates; their scores are min-max normalised and summed with
the weights in Settings (or, with fusion="rrf", merged by reciprocal rank). Exact figures and document
numbers a question quotes ("16.24万千瓦", "鹤政函〔2024〕1号") are matched literally and rank first:
the dense side must never bury an exact match.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.config import Settings
from assistant.facts.knowledge import Knowledge
from assistant.ingest.clean import normalise_text
from assistant.lang.doc_numbers import DOC_NUMBER
from assistant.models import Chunk, Hit
from assistant.retrieval.embedding import Embedder, OnnxEmbedder, embed_queries, load_embedder, torch_threads
from assistant.retrieval.index import open_index
from assistant.retrieval.lexical import LexicalIndex
from assistant.retrieval.stores import DenseStore

if TYPE_CHECKING:
    from assistant.retrieval.llama import LlamaHybridRetriever

EXACT_BOOST = 2.0  # added to an exact match's score: above any fused score (each is at most 1)
EXACT_NUMBER = re.compile(r"(?<![\d.])\d+\.\d+|(?<![\d.])\d+(?=%|万|亿|个|家|座|公里|千米|米|亩|名|件|台|户|条|km|MW)")
EXACT_PHRASE = re.compile(DOC_NUMBER.pattern + r"|“([^”]{2,30})”|\"([^\"]{2,30})\"|《([^》]{2,40})》")


def exact_needles(query: str) -> list[str]:
    """Figures and quoted phrases a question states literally (years are context, not needles)."""
    text = normalise_text(query)
    needles = [m.group() for m in EXACT_NUMBER.finditer(text)]
    for match in EXACT_PHRASE.finditer(text):
        needles.append(next((g for g in match.groups() if g), match.group()))
    return needles


QUERY_CACHE_SIZE = 4096
PREFETCH_BATCH = 32


class QueryVectors:
    """Query vectors by normalised question, least recently used dropped first; thread-safe.

    A batch of questions is embedded together (`prefetch`): one ONNX Runtime call per 32 questions
    of similar length instead of one each (fp32: 25% less time a question, same vectors). With int8
    queries the batch size is 1: dynamic quantisation scales activations over the whole batch, so a
    question embedded among others would get a slightly different vector (cosine 0.994) than alone.
    """

    def __init__(
        self, embed: Callable[[list[str]], np.ndarray], size: int = QUERY_CACHE_SIZE, batch_size: int = PREFETCH_BATCH
    ) -> None:
        self._embed = embed
        self.batch_size = batch_size
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, query: str) -> np.ndarray:
        key = normalise_text(query)
        with self._lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        vector = self._embed([key])[0]
        self._store([key], vector[None, :])
        return vector

    def prefetch(self, queries: Iterable[str]) -> int:
        """Embed the queries not cached yet, in batches; returns how many were embedded."""
        with self._lock:
            missing = list(dict.fromkeys(k for k in map(normalise_text, queries) if k and k not in self._vectors))
        missing = sorted(missing[-self._size :], key=len)  # similar lengths together: little padding
        for start in range(0, len(missing), self.batch_size):
            keys = missing[start : start + self.batch_size]
            self._store(keys, self._embed(keys))
        return len(missing)

    def _store(self, keys: list[str], vectors: np.ndarray) -> None:
        with self._lock:
            for key, vector in zip(keys, vectors, strict=True):
                self._vectors[key] = vector
                self._vectors.move_to_end(key)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)

    def cache_clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def __len__(self) -> int:
        return len(self._vectors)


class HybridRetriever:
    """Thread-safe: searches may run concurrently. With the torch backend query embedding runs one at a
    time (the fast tokenizer of transformers raises "Already borrowed" when two threads use it)."""

    def __init__(
        self, chunks: list[Chunk], store: DenseStore, lexical: LexicalIndex, embedder: Embedder,
        settings: Settings, vectors: np.ndarray,
    ):
        self.chunks = chunks
        self.store = store
        self.lexical = lexical
        self.embedder = embedder
        self.settings = settings
        self.vectors = vectors  # row i = chunk i, for score fusion
        self._normalised = [normalise_text(c.passage()) for c in chunks]
        self._embed_lock = threading.Lock()  # the torch backend only
        quantised = isinstance(embedder, OnnxEmbedder) and embedder.quantised_queries
        self._query_vector = QueryVectors(self._embed_queries, batch_size=1 if quantised else PREFETCH_BATCH)

    @property
    def dense(self) -> Any:
        """The underlying dense index: a faiss index, or llama-index's MilvusVectorStore."""
        return self.store.index

    @classmethod
    def open(
        cls, knowledge: Knowledge, settings: Settings, embedder: Embedder | None = None,
        progress: bool = False,
    ) -> HybridRetriever:
        """A retriever over the current index, which assistant/retrieval/index.py rebuilds first if stale (per on_stale)."""
        embedder = embedder or load_embedder(
            settings.model, settings.model_cache, settings.embed_backend, settings.query_quantised, settings.query_threads
        )
        index = open_index(knowledge, settings, embedder, progress=progress)
        return cls(index.chunks, index.store, index.lexical, embedder, settings, index.vectors)

    def problem(self) -> str | None:
        """Why searches fail right now (the Milvus server down), or None: for /api/health."""
        return self.store.problem()

    def _embed_queries(self, queries: list[str]) -> np.ndarray:
        if isinstance(self.embedder, OnnxEmbedder):  # its query session has its own thread count
            return embed_queries(self.embedder, queries)
        with self._embed_lock, torch_threads(self.settings.query_threads):
            return embed_queries(self.embedder, queries)

    def prefetch(self, queries: Iterable[str]) -> int:
        """Embed many queries at once (a questionnaire): later searches for them find their vectors cached."""
        return self._query_vector.prefetch(queries)

    def bm25_ranking(self, query: str, depth: int, scores: np.ndarray | None = None) -> list[int]:
        scores = self.lexical.scores(query) if scores is None else scores
        order = np.argsort(-scores, kind="stable")[:depth]
        return [int(i) for i in order if scores[i] > 0]

    def dense_ranking(self, query: str, depth: int) -> list[int]:
        vector = self._query_vector(query)
        return self.store.search(vector, min(depth, len(self.chunks)))

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[Hit]:
        """The top `k` chunks for `query`; mode "bm25" or "dense" uses one side only (no exact boost)."""
        k = k or self.settings.top_k
        depth = max(50, k * 4)
        lexical = self.lexical.scores(query) if mode in ("hybrid", "bm25") else None  # once: jieba is most of it
        bm25 = self.bm25_ranking(query, depth, lexical) if lexical is not None else []
        dense = self.dense_ranking(query, depth) if mode in ("hybrid", "dense") else []
        bm25_rank = {i: r for r, i in enumerate(bm25, 1)}
        dense_rank = {i: r for r, i in enumerate(dense, 1)}
        if self.settings.fusion == "rrf":
            scores = self.rrf_scores(bm25_rank, dense_rank)
        else:
            scores = self.score_fusion(query, bm25, dense, lexical)
        exact = self.exact_matches(query) if mode == "hybrid" else set()
        for i in exact:
            scores[i] = scores.get(i, 0.0) + EXACT_BOOST
        ranked = sorted(scores, key=lambda i: -scores[i])[:k]
        return [Hit(self.chunks[i], scores[i], bm25_rank.get(i), dense_rank.get(i), i in exact) for i in ranked]

    def exact_matches(self, query: str) -> set[int]:
        """Chunks containing every figure and quoted phrase of the query (none when it quotes none)."""
        needles = [normalise_text(n) for n in exact_needles(query)]
        if not needles:
            return set()
        return {i for i, text in enumerate(self._normalised) if all(n in text for n in needles)}

    def rrf_scores(self, bm25_rank: dict[int, int], dense_rank: dict[int, int]) -> dict[int, float]:
        """Reciprocal rank fusion: sum of weight / (rrf_k + rank) over the two lists."""
        rrf = self.settings.rrf_k
        scores: dict[int, float] = {}
        for i, r in bm25_rank.items():
            scores[i] = scores.get(i, 0.0) + self.settings.bm25_weight / (rrf + r)
        for i, r in dense_rank.items():
            scores[i] = scores.get(i, 0.0) + self.settings.dense_weight / (rrf + r)
        return scores

    def score_fusion(
        self, query: str, bm25: list[int], dense: list[int], lexical: np.ndarray | None = None
    ) -> dict[int, float]:
        """Weighted sum of min-max normalised scores over the union of both candidate lists.

        Unlike rank fusion it keeps how far ahead BM25's best match is: on the eval questions RRF
        (any k, any weight) lost to BM25 alone on hit@1, this did not (see README, Retrieval).
        """
        candidates = sorted(set(bm25) | set(dense))
        if not candidates:
            return {}
        total = np.zeros(len(candidates), dtype=np.float32)
        if bm25:
            lexical = self.lexical.scores(query) if lexical is None else lexical
            total += self.settings.bm25_weight * _min_max(lexical[candidates], floor=0.0)
        if dense:
            vector = self._query_vector(query)
            total += self.settings.dense_weight * _min_max(np.asarray(self.vectors[candidates]) @ vector)
        weight = (self.settings.bm25_weight if bm25 else 0.0) + (self.settings.dense_weight if dense else 0.0)
        return {i: float(s) / (weight or 1.0) for i, s in zip(candidates, total, strict=True)}

    def as_llama_retriever(self, k: int | None = None, mode: str = "hybrid") -> LlamaHybridRetriever:
        """This retriever behind llama-index's BaseRetriever interface (assistant/retrieval/llama.py)."""
        from assistant.retrieval.llama import (
            LlamaHybridRetriever,  # importing llama-index costs ~1 s that `ask` does not need
        )

        return LlamaHybridRetriever(self, k or self.settings.top_k, mode)


def _min_max(values: np.ndarray, floor: float | None = None) -> np.ndarray:
    low = values.min() if floor is None else floor
    span = values.max() - low
    return (values - low) / span if span > 0 else np.zeros_like(values)
