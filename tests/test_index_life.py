"""Index life that cannot break: one build at a time, `CURRENT` only names a verified build, files
readable per umask, a broken index reported unhealthy or rebuilt, no SIGBUS from a truncated file."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.errors import IndexError_
from assistant.facts.knowledge import load_knowledge
from assistant.retrieval.embedding import load_embedder
from assistant.retrieval.index import (
    VECTORS_FILE,
    build_index,
    build_lock,
    current_build,
    open_index,
    verify_build,
)
from assistant.retrieval.lexical import LexicalIndex
from assistant.web.api import create_app
from assistant.web.service import ServedAssistant

ROOT = Path(__file__).resolve().parents[1]
SMALL_PLAN = (
    "一、工作目标\n\n到2027年，全县光伏装机达到88.8万千瓦以上。\n\n"
    "二、保障措施\n\n县发改局牵头建立调度机制，每季度通报一次进展。\n"
)


@pytest.fixture(scope="module")
def embedder(settings):
    return load_embedder(settings.model, settings.model_cache)


@pytest.fixture
def small(settings, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plan.md").write_text(SMALL_PLAN, "utf-8")
    return settings.with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index", on_stale="rebuild")


# ---------------------------------------------------------------- one build at a time


def test_two_builds_at_once_end_with_a_complete_current(small, embedder, caplog):
    knowledge = load_knowledge(small.corpus_dir)
    results: list[Path | BaseException] = []

    def build() -> None:
        try:
            results.append(build_index(knowledge, small, embedder))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    with caplog.at_level(logging.WARNING, logger="assistant.retrieval.index"):
        threads = [threading.Thread(target=build) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert all(isinstance(r, Path) for r in results) and len(results) == 3, results
    live = current_build(small.index_dir)
    verify_build(live, small)  # every file the manifest names loads
    leftovers = [p.name for p in small.index_dir.iterdir() if p.is_dir()]
    assert leftovers == [live.name]
    search = open_index(knowledge, small.with_overrides(on_stale="error"), embedder)
    assert search.lexical.scores("光伏装机").max() > 0


def test_a_second_build_waits_then_refuses_clearly(small, embedder, caplog):
    knowledge = load_knowledge(small.corpus_dir)
    with build_lock(small.index_dir, timeout=1), caplog.at_level(logging.WARNING, logger="assistant.retrieval.index"):
        started = time.monotonic()
        with pytest.raises(IndexError_, match="another build is still running.*PLANQA_BUILD_LOCK_TIMEOUT"):
            build_index(knowledge, small.with_overrides(build_lock_timeout=0.5), embedder)
        assert time.monotonic() - started >= 0.5
    assert "another build is running" in caplog.text
    assert not (small.index_dir / "CURRENT").exists()


def test_the_lock_holds_across_processes(tmp_path):
    """`planqa build` in two shells: flock on the index folder, seen by another process."""
    child = (
        "import sys; from pathlib import Path; from assistant.retrieval.index import build_lock\n"
        "with build_lock(Path(sys.argv[1]), timeout=0.3): pass\n"
    )
    index_dir = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with build_lock(index_dir, timeout=1):
        held = subprocess.run([sys.executable, "-c", child, str(index_dir)], capture_output=True, text=True, env=env)
    free = subprocess.run([sys.executable, "-c", child, str(index_dir)], capture_output=True, text=True, env=env)
    assert held.returncode != 0 and "another build is still running" in held.stderr
    assert free.returncode == 0, free.stderr


def test_a_build_that_fails_its_check_leaves_the_old_one_serving(small, embedder, monkeypatch):
    knowledge = load_knowledge(small.corpus_dir)
    old = build_index(knowledge, small, embedder)
    save = LexicalIndex.save

    def torn_save(self, folder: Path) -> None:  # a disk that fills up part way through the BM25 files
        save(self, folder)
        data = folder / "data.csc.index.npy"
        data.write_bytes(data.read_bytes()[:40])

    monkeypatch.setattr(LexicalIndex, "save", torn_save)
    with pytest.raises(IndexError_, match="BM25"):
        build_index(knowledge, small, embedder)
    assert current_build(small.index_dir) == old
    assert sorted(p.name for p in small.index_dir.iterdir()) == ["CURRENT", old.name]


# ---------------------------------------------------------------- modes


@pytest.mark.parametrize(("umask", "folder_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])
def test_build_files_follow_the_umask(small, embedder, umask, folder_mode, file_mode):
    previous = os.umask(umask)
    try:
        build = build_index(load_knowledge(small.corpus_dir), small, embedder)
    finally:
        os.umask(previous)
    modes = {p.relative_to(build).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [build, *build.rglob("*")]}
    assert modes.pop(".") == folder_mode
    assert modes.pop("bm25") == folder_mode
    assert set(modes.values()) == {file_mode}, modes
    assert stat.S_IMODE((small.index_dir / "CURRENT").stat().st_mode) == file_mode


# ---------------------------------------------------------------- a broken index at load


def _truncate(path: Path, keep: int = 64) -> None:
    path.write_bytes(path.read_bytes()[:keep])


CORRUPTIONS = {
    "chunks-garbage": ("chunks.jsonl", lambda p: p.write_text('{"id": "x"\n', "utf-8"), "chunks"),
    "chunks-short": ("chunks.jsonl", lambda p: p.write_text(p.read_text("utf-8").splitlines()[0] + "\n", "utf-8"), "inconsistent"),
    "vectors-truncated": (VECTORS_FILE, _truncate, "vectors.npy"),
    "bm25-truncated": ("bm25/data.csc.index.npy", _truncate, "BM25"),
    "bm25-vocabulary": ("bm25/vocab.index.json", lambda p: p.write_text("{not json", "utf-8"), "BM25"),
    "store-truncated": ("dense.faiss", _truncate, "dense.faiss"),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_broken_index_makes_health_503_with_the_reason(small, embedder, name, tmp_path):
    knowledge = load_knowledge(small.corpus_dir)
    relative, corrupt, reason = CORRUPTIONS[name]
    corrupt(build_index(knowledge, small, embedder) / relative)
    replica = small.with_overrides(on_stale="error", audit_log=tmp_path / "audit.jsonl")

    background = ServedAssistant(replica, factory=lambda s: open_index(knowledge, s, embedder)).start()
    assert background._done.wait(60)
    client = TestClient(create_app(background, replica), raise_server_exceptions=False)
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json()["status"] == "unhealthy"
    assert reason in health.json()["detail"] and "planqa build" in health.json()["detail"]
    asked = client.post("/api/ask", json={"question": "光伏装机目标是多少？"})
    assert asked.status_code == 503 and reason in asked.json()["detail"]


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_broken_index_is_rebuilt_when_the_policy_allows(small, embedder, name, caplog):
    knowledge = load_knowledge(small.corpus_dir)
    relative, corrupt, reason = CORRUPTIONS[name]
    old = build_index(knowledge, small, embedder)
    corrupt(old / relative)
    with caplog.at_level(logging.WARNING, logger="assistant.retrieval.index"):
        loaded = open_index(knowledge, small, embedder)
    assert loaded.build != old and current_build(small.index_dir) == loaded.build
    assert reason in caplog.text and "rebuilding" in caplog.text  # the fault is logged
    assert loaded.vectors.shape == (loaded.manifest.chunk_count, loaded.manifest.dimension)


# ---------------------------------------------------------------- truncation under a running server


TRUNCATE_AND_ASK = """
import sys
from pathlib import Path
from assistant.config import load_settings
from assistant.facts.knowledge import load_knowledge
from assistant.retrieval.retrieve import HybridRetriever

settings = load_settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]), on_stale="error")
retriever = HybridRetriever.open(load_knowledge(settings.corpus_dir), settings)
vectors = Path(sys.argv[3])
vectors.write_bytes(vectors.read_bytes()[:200])  # the live build's file, under the running retriever
hits = retriever.search("光伏装机达到多少", k=2)
print("answered", hits[0].chunk.text)
"""


def test_truncating_the_live_vectors_file_does_not_kill_the_server(small, embedder):
    """A memory-mapped vectors.npy truncated under a running process is SIGBUS on the next query
    (for rows on pages wholly past the new end: enough chunks for several pages of vectors)."""
    tasks = "".join(f"第{n}项：到2027年，新建储能设施{n}处，县发改局每季度通报进展。\n\n" for n in range(1, 41))
    (small.corpus_dir / "plan.md").write_text(SMALL_PLAN + "三、其他任务\n\n" + tasks, "utf-8")
    build = build_index(load_knowledge(small.corpus_dir), small, embedder)
    assert (build / VECTORS_FILE).stat().st_size > 4 * os.sysconf("SC_PAGE_SIZE")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", TRUNCATE_AND_ASK, str(small.corpus_dir), str(small.index_dir), str(build / VECTORS_FILE)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])  # -7 = SIGBUS
    assert "answered" in run.stdout and "88.8" in run.stdout
    manifest = json.loads((build / "manifest.json").read_text("utf-8"))
    with pytest.raises(IndexError_, match="vectors.npy is missing or corrupt"):  # and the next start says so
        open_index(load_knowledge(small.corpus_dir), small.with_overrides(on_stale="error"), embedder)
    assert manifest["chunk_count"] > 0
