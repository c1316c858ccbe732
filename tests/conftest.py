"""Shared fixtures: the real bulletin, ingested once per test session; the test tiers.

Tiers (markers registered in pyproject.toml) come from the fixtures a test uses, so no test file
marks itself: `index` = needs the embedding model or the built index, `e2e` = a live server or
browser. `pytest -m "not index and not e2e"` is the quick loop; plain `pytest` (and .ci/run) runs all.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.facts.knowledge import Knowledge, load_knowledge

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
BULLETIN = CORPUS / "hecheng-bulletin-2024-02.txt"


# Fixtures that load the embedding model or build the index (directly or through other fixtures).
INDEX_FIXTURES = {"assistant", "retriever", "embedder", "model_dir"}
E2E_FIXTURES = {"base_url", "driver", "open_server", "keyed_server",
                "spec_and_servers", "api_schema"}  # the generated client's servers; the schemathesis run (~30 s)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & E2E_FIXTURES:
            item.add_marker(pytest.mark.e2e)
        if used & (INDEX_FIXTURES | E2E_FIXTURES):
            item.add_marker(pytest.mark.index)


@pytest.fixture(scope="session")
def bulletin_text() -> str:
    return BULLETIN.read_text("utf-8")


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge(CORPUS)


def clause_with(knowledge: Knowledge, needle: str, kind: str | None = None):
    """The one clause whose text contains `needle` (normalised form)."""
    found = [c for c in knowledge.clauses if needle in c.text and (kind is None or c.kind == kind)]
    assert len(found) == 1, f"{needle!r} found in {len(found)} clauses"
    return found[0]


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    """Settings whose index lives in a per-session temporary folder (built once, on first use)."""
    from assistant.config import load_settings

    return load_settings(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def assistant(settings):
    from assistant.answer import Assistant

    return Assistant.from_settings(settings)


@pytest.fixture(scope="session")
def retriever(assistant):
    return assistant.retriever


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    """A questionnaire workbook in memory, for upload tests."""
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@contextmanager
def served(app):
    """An ASGI app served by uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def served_page(assistant, settings, tmp_path_factory, keys: tuple[str, ...] = ()):
    """The real app (API + page + /embed) over the session's assistant, its audit in a fresh folder."""
    from assistant.web.app import build_app
    from assistant.web.service import ServedAssistant

    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with served(build_app(settings.with_overrides(audit_log=audit, api_keys=keys), ServedAssistant.of(assistant))) as url:
        yield url


@dataclass(frozen=True)
class _Chunk:
    clause_id: str
    doc: str


@dataclass(frozen=True)
class _Hit:
    chunk: _Chunk
    score: float


class NoPlans:
    """The knowledge of a stand-in answerer: no plan loaded, no clause to look up."""

    documents: tuple = ()
    identities: dict = {}  # noqa: RUF012 - read only

    def clause(self, clause_id):
        raise KeyError(clause_id)


class StandIn:
    """The rest of the answerer surface (KnowledgeAnswerer, assistant/facts/knowledge.py) for a test's
    stand-in that only answers: no plans, nothing to embed ahead, no server to lose."""

    knowledge = NoPlans()

    def prefetch(self, questions):
        return None

    def problem(self):
        return None


class OverlapRetriever:
    """Stands in for the hybrid retriever on tiny synthetic plans: clauses ranked by the bigrams they share
    with the query (no model, so such tests stay in the quick tier)."""

    def __init__(self, knowledge):
        self.clauses = knowledge.clauses

    def search(self, query, k=None, mode="hybrid"):
        from assistant.answer.text import bigrams

        grams = bigrams(query)
        scored = sorted(self.clauses, key=lambda c: -sum(g in c.text for g in grams))
        return [_Hit(_Chunk(c.id, c.doc), 1.0) for c in scored[: k or 5]]
