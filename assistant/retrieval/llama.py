"""The hybrid retriever behind llama-index's retriever interface, for llama-index pipelines.

Nodes carry the chunk's citation metadata (document, clause, section, span in the original), so a
llama-index query engine can cite as the assistant does. Imported only when asked for: llama-index
adds about a second of start-up.
"""

from __future__ import annotations

from typing import Protocol

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from assistant.models import Chunk, Hit


class Searcher(Protocol):
    """What the adapter needs of a retriever (assistant/retrieval/retrieve.py's HybridRetriever)."""

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[Hit]: ...


class LlamaHybridRetriever(BaseRetriever):
    """Scored nodes from `retriever.search`, best first."""

    def __init__(self, retriever: Searcher, k: int, mode: str = "hybrid") -> None:
        super().__init__()
        self._searcher = retriever
        self._k = k
        self._mode = mode

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._searcher.search(query_bundle.query_str, self._k, self._mode)
        return [NodeWithScore(node=chunk_node(hit.chunk), score=hit.score) for hit in hits]


def chunk_node(chunk: Chunk) -> TextNode:
    """A chunk as a llama-index node; offsets stay out of what an LLM or embedder sees, the clause id out of embeddings."""
    return TextNode(
        id_=chunk.id,
        text=chunk.text,
        metadata={"doc": chunk.doc, "clause_id": chunk.clause_id, "section": chunk.section,
                  "kind": chunk.kind, "start": chunk.start, "end": chunk.end},
        excluded_embed_metadata_keys=["start", "end", "clause_id"],
        excluded_llm_metadata_keys=["start", "end"],
    )
