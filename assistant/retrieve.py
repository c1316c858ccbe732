"""Stage 6, retrieve: jieba BM25 and FAISS dense search, fused by reciprocal rank.

Exact figures and document numbers a question quotes ("16.24万千瓦", "鹤政函〔2024〕1号") are matched
literally and rank first: the dense side must never bury an exact match.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .clean import normalise_text
from .config import Settings
from .index import (
    Chunk,
    IndexError_,
    build_index,
    check_manifest,
    current_build,
    load_chunks,
    load_dense,
    load_vectors,
    read_manifest,
)
from .knowledge import Knowledge
from .stores import FaissStore

log = logging.getLogger(__name__)

STOP_WORDS = frozenset(
    "的 了 和 与 及 或 是 在 对 把 被 将 从 为 以 等 中 上 下 要 有 也 都 就 还 这 那 哪 哪些 什么 多少 几 吗 呢 啊 吧 "
    "怎么 如何 是否 请问 一下 我们 你们 他们 其 之 该 各 个 方案 里 中的 要求 规定 提到 达到 目标 , 。 、 ; : ? ! ( ) “ ” 《 》 ？ ！ ，".split()
)
# Jieba splits on "/" and keeps no unit like "蒸吨/小时" whole; such terms are cut out first.
PROTECTED = re.compile(r"蒸吨/小时|m3/d|\d+(?:\.\d+)?%")


class Tokenizer:
    """jieba with the plan's own vocabulary (units, indicators, domain terms) and stop words."""

    def __init__(self, terms: list[str]):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        for term in terms:
            if term and not PROTECTED.fullmatch(term):
                self._jieba.add_word(term, freq=2000)
        self.terms = terms

    def __call__(self, text: str) -> list[str]:
        text = normalise_text(text).lower()
        tokens = PROTECTED.findall(text)
        text = PROTECTED.sub(" ", text)
        for token in self._jieba.cut_for_search(text):
            token = token.strip()
            if token and token not in STOP_WORDS and not re.fullmatch(r"\W+", token):
                tokens.append(token)
        return tokens


def plan_terms(knowledge: Knowledge) -> list[str]:
    """The user dictionary: bundled domain terms + unit names and short indicators of this corpus."""
    from .facts import unit_aliases

    bundled = resources.files("assistant").joinpath("data", "terms.txt").read_text("utf-8").splitlines()
    terms = [t.strip() for t in bundled if t.strip() and not t.startswith("#")]
    terms += list(unit_aliases())
    for units in knowledge.responsibilities.values():
        terms += list(units.original)
    terms += [t.indicator for t in knowledge.targets if 2 < len(t.indicator) <= 10]
    return sorted(set(terms))


class LexicalIndex:
    """BM25 (bm25s) over jieba tokens."""

    def __init__(self, bm25, tokenizer: Tokenizer):
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self.vocabulary = set(bm25.vocab_dict)

    @classmethod
    def build(cls, chunks: list[Chunk], knowledge: Knowledge) -> LexicalIndex:
        import bm25s

        tokenizer = Tokenizer(plan_terms(knowledge))
        bm25 = bm25s.BM25()
        bm25.index([tokenizer(c.passage()) or [""] for c in chunks], show_progress=False)
        return cls(bm25, tokenizer)

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder))
        (folder / "terms.json").write_text(json.dumps(self.tokenizer.terms, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        try:
            terms = json.loads((folder / "terms.json").read_text("utf-8"))
            return cls(bm25s.BM25.load(str(folder)), Tokenizer(terms))
        except (OSError, ValueError, KeyError) as exc:
            raise IndexError_(f"BM25 index in {folder} is missing or corrupt ({exc}): run `planqa build`") from exc

    def scores(self, query: str) -> np.ndarray:
        tokens = [t for t in self.tokenizer(query) if t in self.vocabulary]
        if not tokens:
            return np.zeros(self.bm25.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    bm25_rank: int | None  # 1-based, None when the list did not rank it
    dense_rank: int | None
    exact: bool = False


EXACT_NUMBER = re.compile(r"(?<![\d.])\d+\.\d+|(?<![\d.])\d+(?=%|万|亿|个|家|座|公里|千米|米|亩|名|件|台|户|条|km|MW)")
EXACT_PHRASE = re.compile(r"[\u4e00-\u9fff]{1,6}〔\d{4}〕\d+号|“([^”]{2,30})”|\"([^\"]{2,30})\"|《([^》]{2,40})》")


def exact_needles(query: str) -> list[str]:
    """Figures and quoted phrases a question states literally (years are context, not needles)."""
    text = normalise_text(query)
    needles = [m.group() for m in EXACT_NUMBER.finditer(text)]
    for match in EXACT_PHRASE.finditer(text):
        needles.append(next((g for g in match.groups() if g), match.group()))
    return needles


class HybridRetriever:
    """Thread-safe: searches may run concurrently; query embedding (the one shared mutable part: the
    model's fast tokenizer raises "Already borrowed" when two threads use it) runs one at a time."""

    def __init__(self, chunks: list[Chunk], store, lexical: LexicalIndex, embedder, settings: Settings, vectors=None):
        self.chunks = chunks
        self.store = store if hasattr(store, "index") else FaissStore(store)  # a bare faiss index is wrapped
        self.lexical = lexical
        self.embedder = embedder
        self.settings = settings
        self._normalised = [normalise_text(c.passage()) for c in chunks]
        self._embed_lock = threading.Lock()
        self.vectors = vectors if vectors is not None else np.zeros((len(chunks), 0), np.float32)
        self._query_vector = lru_cache(maxsize=2048)(self._embed_query)

    @property
    def dense(self):
        """The underlying dense index: a faiss index, or llama-index's MilvusVectorStore."""
        return self.store.index

    @classmethod
    def open(cls, knowledge: Knowledge, settings: Settings, embedder=None, progress: bool = False) -> HybridRetriever:
        """Load the current index; rebuild it when missing or stale (or fail, per settings.on_stale)."""
        from .embedding import load_embedder

        embedder = embedder or load_embedder(settings.model, settings.model_cache)
        try:
            build = current_build(settings.index_dir)
            problem = check_manifest(read_manifest(build), knowledge, settings)
        except IndexError_ as exc:
            build, problem = None, str(exc)
        if problem:
            if settings.on_stale != "rebuild":
                raise IndexError_(f"{problem}: run `planqa build`")
            log.warning("%s: building the index", problem)
            build = build_index(knowledge, settings, embedder, progress=progress)
        assert build is not None
        manifest = read_manifest(build)
        store = load_dense(build, manifest, settings)
        vectors = load_vectors(build, manifest)
        return cls(load_chunks(build), store, LexicalIndex.load(build / "bm25"), embedder, settings, vectors)

    def _embed_query(self, query: str) -> np.ndarray:
        from .embedding import embed_queries

        with self._embed_lock, torch_threads(self.settings.query_threads):
            return embed_queries(self.embedder, [query])[0]

    def bm25_ranking(self, query: str, depth: int) -> list[int]:
        scores = self.lexical.scores(query)
        order = np.argsort(-scores, kind="stable")[:depth]
        return [int(i) for i in order if scores[i] > 0]

    def dense_ranking(self, query: str, depth: int) -> list[int]:
        vector = self._query_vector(normalise_text(query))
        return self.store.search(vector, min(depth, len(self.chunks)))

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[Hit]:
        k = k or self.settings.top_k
        depth = max(50, k * 4)
        bm25 = self.bm25_ranking(query, depth) if mode in ("hybrid", "bm25") else []
        dense = self.dense_ranking(query, depth) if mode in ("hybrid", "dense") else []
        bm25_rank = {i: r for r, i in enumerate(bm25, 1)}
        dense_rank = {i: r for r, i in enumerate(dense, 1)}
        if self.settings.fusion == "rrf":
            scores = self.rrf_scores(bm25_rank, dense_rank)
        else:
            scores = self.score_fusion(query, bm25 if mode != "dense" else [], dense if mode != "bm25" else [])
        needles = [normalise_text(n) for n in exact_needles(query)] if mode == "hybrid" else []
        exact = {i for i, text in enumerate(self._normalised) if needles and all(n in text for n in needles)}
        for i in exact:
            scores[i] = scores.get(i, 0.0) + 2.0  # above any fused score (each is at most 1)
        ranked = sorted(scores, key=lambda i: -scores[i])[:k]
        return [Hit(self.chunks[i], scores[i], bm25_rank.get(i), dense_rank.get(i), i in exact) for i in ranked]

    def rrf_scores(self, bm25_rank: dict[int, int], dense_rank: dict[int, int]) -> dict[int, float]:
        """Reciprocal rank fusion: sum of weight / (rrf_k + rank) over the two lists."""
        rrf = self.settings.rrf_k
        scores: dict[int, float] = {}
        for i, r in bm25_rank.items():
            scores[i] = scores.get(i, 0.0) + self.settings.bm25_weight / (rrf + r)
        for i, r in dense_rank.items():
            scores[i] = scores.get(i, 0.0) + self.settings.dense_weight / (rrf + r)
        return scores

    def score_fusion(self, query: str, bm25: list[int], dense: list[int]) -> dict[int, float]:
        """Weighted sum of min-max normalised scores over the union of both candidate lists.

        Unlike rank fusion it keeps how far ahead BM25's best match is: on the eval questions RRF
        (any k, any weight) lost to BM25 alone on hit@1, this did not (see README, Retrieval).
        """
        candidates = sorted(set(bm25) | set(dense))
        if not candidates:
            return {}
        total = np.zeros(len(candidates), dtype=np.float32)
        if bm25:
            lexical = self.lexical.scores(query)[candidates]
            total += self.settings.bm25_weight * _min_max(lexical, floor=0.0)
        if dense:
            vector = self._query_vector(normalise_text(query))
            total += self.settings.dense_weight * _min_max(np.asarray(self.vectors[candidates]) @ vector)
        weight = (self.settings.bm25_weight if bm25 else 0.0) + (self.settings.dense_weight if dense else 0.0)
        return {i: float(s) / (weight or 1.0) for i, s in zip(candidates, total, strict=True)}

    def as_llama_retriever(self, k: int | None = None, mode: str = "hybrid"):
        return _llama_retriever_class()(self, k or self.settings.top_k, mode)


def _min_max(values: np.ndarray, floor: float | None = None) -> np.ndarray:
    low = values.min() if floor is None else floor
    span = values.max() - low
    return (values - low) / span if span > 0 else np.zeros_like(values)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch with `n` intra-op threads (0 = leave as is), restoring the previous count after."""
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


def _llama_retriever_class() -> type:
    """Defined on first use: importing llama-index costs ~1 s of start-up that `ask` does not need."""
    global LlamaHybridRetriever
    if LlamaHybridRetriever is not None:
        return LlamaHybridRetriever
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    class _LlamaHybridRetriever(BaseRetriever):
        """The hybrid retriever as a llama-index retriever: nodes with scores and citation metadata."""

        def __init__(self, retriever: HybridRetriever, k: int, mode: str = "hybrid"):
            super().__init__()
            self._hybrid = retriever
            self._k = k
            self._mode = mode

        def _retrieve(self, query_bundle):
            nodes = []
            for hit in self._hybrid.search(query_bundle.query_str, self._k, self._mode):
                chunk = hit.chunk
                node = TextNode(
                    id_=chunk.id,
                    text=chunk.text,
                    metadata={"doc": chunk.doc, "clause_id": chunk.clause_id, "section": chunk.section,
                              "kind": chunk.kind, "start": chunk.start, "end": chunk.end},
                    excluded_embed_metadata_keys=["start", "end", "clause_id"],
                    excluded_llm_metadata_keys=["start", "end"],
                )
                nodes.append(NodeWithScore(node=node, score=hit.score))
            return nodes

    _LlamaHybridRetriever.__name__ = _LlamaHybridRetriever.__qualname__ = "LlamaHybridRetriever"
    LlamaHybridRetriever = _LlamaHybridRetriever
    return LlamaHybridRetriever


LlamaHybridRetriever: type | None = None  # the class, once as_llama_retriever() has defined it
