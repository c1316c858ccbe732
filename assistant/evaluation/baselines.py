"""The systems ours is compared with: BM25 alone, dense alone (the assistant's own retriever in one mode), and a
plain llama-index pipeline (SentenceSplitter defaults + VectorStoreIndex with the same embedding model); each
answers with its top retrieved chunk.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assistant.errors import SettingsError
from assistant.evaluation.scoring import Span

if TYPE_CHECKING:
    from assistant.answer import Assistant


SYSTEMS = ("ours", "bm25", "dense", "llama_index")
RETRIEVAL_MODE = {"ours": "hybrid", "bm25": "bm25", "dense": "dense", "llama_index": "llama_index"}
DEPTH = 10  # retrieved per question; MRR counts ranks up to here


def llama_embedding(embedder: Any) -> Any:
    """The assistant's SentenceTransformer as a llama-index embedding (e5 query/passage prompts kept)."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    from assistant.retrieval.embedding import embed_passages, embed_queries

    class SentenceTransformerEmbedding(BaseEmbedding):
        _model: Any = PrivateAttr()

        def __init__(self, model: Any) -> None:
            super().__init__(model_name="planqa-embedder")
            self._model = model

        def _get_query_embedding(self, query: str) -> list[float]:
            return embed_queries(self._model, [query])[0].tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embed_passages(self._model, [text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embed_passages(self._model, texts).tolist()

    return SentenceTransformerEmbedding(embedder)


class LlamaIndexBaseline:
    """What a new user would write: default SentenceSplitter, VectorStoreIndex, top-k retrieve."""

    def __init__(self, texts: dict[str, str], embedder: Any, k: int = DEPTH):
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core import Settings as LlamaSettings
        from llama_index.core.llms import MockLLM
        from llama_index.core.node_parser import SentenceSplitter

        LlamaSettings.llm = MockLLM()  # nothing may call the network
        documents = [Document(text=text, metadata={"file_name": doc}) for doc, text in texts.items()]
        self.index = VectorStoreIndex.from_documents(
            documents, embed_model=llama_embedding(embedder), transformations=[SentenceSplitter()]
        )
        self.retriever = self.index.as_retriever(similarity_top_k=k)
        self.texts = texts
        self.nodes = len(self.index.docstore.docs)

    def search(self, query: str) -> list[Span]:
        spans = []
        for hit in self.retriever.retrieve(query):
            doc = hit.node.metadata["file_name"]
            text = hit.node.get_content()
            start = self.texts[doc].find(text)
            if start < 0:  # not verbatim (should not happen): fall back to the splitter's own offsets
                start = hit.node.start_char_idx or 0
            spans.append(Span(doc, start, start + len(text), text))
        return spans


def retrievers(assistant: Assistant, systems: Sequence[str], texts: dict[str, str]) -> dict[str, Any]:
    """system → function(query) -> ranked spans."""

    def ours(mode: str):
        def search(query: str) -> list[Span]:
            hits = assistant.retriever.search(query, k=DEPTH, mode=mode)
            return [Span(h.chunk.doc, h.chunk.start, h.chunk.end, h.chunk.text) for h in hits]

        return search

    if "llama_index" in systems and importlib.util.find_spec("llama_index.core") is None:
        raise SettingsError("llama_index 基线需要安装 / the llama_index baseline needs: pip install 'planqa[eval]'")
    found: dict[str, Any] = {}
    for system in systems:
        if system == "llama_index":
            found[system] = LlamaIndexBaseline(texts, assistant.retriever.embedder).search
        elif system in RETRIEVAL_MODE:
            found[system] = ours(RETRIEVAL_MODE[system])
        else:
            raise SettingsError(f"未知系统 / unknown system {system!r}: choose from {', '.join(SYSTEMS)}")
    return found
