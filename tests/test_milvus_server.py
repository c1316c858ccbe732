"""The Milvus store on a real Milvus server (not embedded milvus-lite): build into it, answer from two processes.

The server is the `milvus` pip package (2.3.5, its wheel ships the standalone server binary), started on
loopback by the fixture; PLANQA_MILVUS_URI, when set, names a running server to use instead. Skipped,
with the reason, when neither is available. pymilvus 2.6 and llama-index-vector-stores-milvus 1.2 talk
to this 2.3.5 server (checked here: create, insert, flush, search, list, drop).
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.config import settings_environ
from assistant.index import build_index, current_build, read_manifest
from assistant.knowledge import load_knowledge
from assistant.stores import collection_prefix

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
from assistant.knowledge import load_knowledge
from assistant.retrieve import HybridRetriever
settings = load_settings(on_stale="error")
retriever = HybridRetriever.open(load_knowledge(settings.corpus_dir), settings)
print(json.dumps({q: [retriever.dense_ranking(q, 10)[:5], [h.chunk.id for h in retriever.search(q)]]
                  for q in json.loads(sys.argv[1])}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory):
    if os.environ.get("PLANQA_MILVUS_URI"):
        yield os.environ["PLANQA_MILVUS_URI"]
        return
    if importlib.util.find_spec("milvus") is None:
        pytest.skip("no Milvus server: the `milvus` package (server binary) is not installed — pip install 'milvus==2.3.5'")
    if importlib.util.find_spec("llama_index.vector_stores.milvus") is None:
        pytest.skip("the Milvus store needs pip install 'planqa[milvus]'")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path_factory.mktemp("milvus")), str(port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_ready(server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


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
