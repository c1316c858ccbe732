"""The Milvus store on a real Milvus server (not embedded milvus-lite): build into it, answer from two processes.

The server is the `milvus` pip package (2.3.5, its wheel ships the standalone server binary), started on
loopback by the fixture; PLANQA_MILVUS_URI, when set, names a running server to use instead. Skipped,
with the reason, when neither is available. pymilvus 2.6 and llama-index-vector-stores-milvus 1.2 talk
to this 2.3.5 server (checked here: create, insert, flush, search, list, drop).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.config import settings_environ
from assistant.facts.knowledge import load_knowledge
from assistant.retrieval.index import build_index, current_build, read_manifest
from assistant.retrieval.stores import collection_prefix

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180
QUERIES = ["非化石能源消费比重", "老旧小区改造", "新能源汽车充电基础设施", "单位GDP能耗下降", "森林覆盖率",
           "光伏发电装机", "数据中心电能利用效率", "兼职法律顾问", "绿色建筑", "工业园区循环化改造"]

SERVER = """
import sys
from milvus import MilvusServer
server = MilvusServer()
server.set_base_dir(sys.argv[1])
server.listen_port = int(sys.argv[2])
server.start()
print("ready", flush=True)
sys.stdin.read()  # until the test closes stdin
server.stop()
"""

WORKER = """
import json, sys
from assistant.config import load_settings
from assistant.facts.knowledge import load_knowledge
from assistant.retrieval.retrieve import HybridRetriever
settings = load_settings(on_stale="error")
retriever = HybridRetriever.open(load_knowledge(settings.corpus_dir), settings)
print(json.dumps({q: [retriever.dense_ranking(q, 10)[:5], [h.chunk.id for h in retriever.search(q)]]
                  for q in json.loads(sys.argv[1])}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A Milvus standalone server in a child process, stopped when the test closes its stdin."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.uri = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.folder), str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        _wait_ready(self.process)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class Outage:
    """A TCP relay in front of the server: `cut()` drops every connection and refuses new ones (the server
    is unreachable), `restore()` listens again on the same port.

    Milvus 2.3.5-lite itself cannot stand in for this: restarted on its own data folder, its proxy never
    opens its port again (its log repeats "find no available rootcoord"), so the test cuts the network instead.
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        for sock in [listener, *self._sockets]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return  # cut
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory):
    """The running server, or None when PLANQA_MILVUS_URI names one this test does not control."""
    if os.environ.get("PLANQA_MILVUS_URI"):
        yield None
        return
    if importlib.util.find_spec("milvus") is None:
        pytest.skip("no Milvus server: the `milvus` package (server binary) is not installed — pip install 'milvus==2.3.5'")
    if importlib.util.find_spec("llama_index.vector_stores.milvus") is None:
        pytest.skip("the Milvus store needs pip install 'planqa[milvus]'")
    server = Server(tmp_path_factory.mktemp("milvus"), free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def milvus_uri(milvus_server: Server | None) -> str:
    return milvus_server.uri if milvus_server else os.environ["PLANQA_MILVUS_URI"]


def _wait_ready(server: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.skip(f"the Milvus server could not start (exit {server.returncode}): {server.stderr.read()[-500:]}")
        ready, _, _ = select.select([server.stdout], [], [], 1.0)
        if ready and server.stdout.readline().strip() == "ready":
            return
    server.kill()
    pytest.skip(f"the Milvus server did not answer within {START_TIMEOUT} s")


def test_two_workers_rank_from_the_server_like_faiss(assistant, milvus_uri: str, tmp_path: Path) -> None:
    settings = assistant.settings.with_overrides(store="milvus", milvus_uri=milvus_uri, index_dir=tmp_path / "index")
    build = build_index(assistant.knowledge, settings, assistant.retriever.embedder)
    manifest = read_manifest(build)
    assert manifest.store == "milvus" and manifest.store_uri == milvus_uri
    assert not (build / "dense.milvus.db").exists()  # the vectors are on the server, not in a lite file
    env = {**os.environ, **settings_environ(settings), "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(QUERIES)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    faiss = assistant.retriever
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]
        rankings = json.loads(out.strip().splitlines()[-1])
        for query in QUERIES:
            dense, hybrid = rankings[query]
            assert dense == faiss.dense_ranking(query, 10)[:5], query
            assert hybrid == [h.chunk.id for h in faiss.search(query)], query


def test_a_new_build_keeps_the_previous_collection_and_drops_older_ones(assistant, milvus_uri: str, tmp_path: Path) -> None:
    from pymilvus import MilvusClient

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    bulletin = (ROOT / "corpus" / "hecheng-bulletin-2024-02.txt").read_text("utf-8")
    (corpus / "part.txt").write_text(bulletin[:3000], "utf-8")  # small: three builds in seconds
    settings = assistant.settings.with_overrides(
        store="milvus", milvus_uri=milvus_uri, index_dir=tmp_path / "index", corpus_dir=corpus
    )
    knowledge = load_knowledge(corpus)
    client = MilvusClient(uri=milvus_uri)
    other = collection_prefix(tmp_path / "another-index") + "keepme"  # another index folder's collection
    client.create_collection(other, dimension=4)
    built = []
    for _ in range(3):
        build_index(knowledge, settings, assistant.retriever.embedder)
        built.append(read_manifest(current_build(settings.index_dir)).store_collection)
    ours = sorted(c for c in client.list_collections() if c.startswith(collection_prefix(settings.index_dir)))
    assert ours == sorted(built[-2:])  # the live one and the previous one, for rollback
    assert other in client.list_collections()  # never another folder's
    client.drop_collection(other)
    client.close()


def test_a_server_outage_is_a_503_with_the_reason_and_answers_resume_when_it_is_back(
    assistant, milvus_server: Server | None, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from assistant.answer import Assistant
    from assistant.web.api import create_app
    from assistant.web.chat import chat_turn
    from assistant.web.service import ServedAssistant

    if milvus_server is None:
        pytest.skip("PLANQA_MILVUS_URI names a server this test does not run")
    outage = Outage(milvus_server.port)
    outage.restore()
    settings = assistant.settings.with_overrides(store="milvus", milvus_uri=outage.uri, index_dir=tmp_path / "index")
    build_index(assistant.knowledge, settings, assistant.retriever.embedder)
    app = create_app(ServedAssistant.of(Assistant.from_settings(settings)), settings)
    client = TestClient(app)
    question = {"question": "老旧小区改造谁牵头？"}
    before = client.post("/api/ask", json=question)
    assert before.status_code == 200 and client.get("/api/health").json()["status"] == "ok"

    outage.cut()
    started = time.monotonic()
    down = client.post("/api/ask", json={"question": "森林覆盖率的目标是多少？"})
    assert down.status_code == 503 and "Milvus" in down.json()["detail"] and outage.uri in down.json()["detail"]
    assert time.monotonic() - started < 30  # a bounded wait, not pymilvus's minutes of retries
    again = client.post("/api/ask", json=question)  # a cached query vector still needs the store
    assert again.status_code == 503
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json()["status"] == "unhealthy" and "Milvus" in health.json()["detail"]
    _, messages, _, _ = chat_turn(app.state.service, "单位GDP能耗下降多少？", [], [])
    assert "Milvus" in messages[-1]["content"] and "planqa-error" in messages[-1]["content"]  # the page says so

    outage.restore()  # the server is reachable again: no restart of ours
    deadline = time.monotonic() + 60
    while (after := client.post("/api/ask", json=question)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(1)
    assert after.status_code == 200, after.text
    assert after.json()["answer"] == before.json()["answer"]
    assert client.get("/api/health").json()["status"] == "ok"
    outage.cut()
