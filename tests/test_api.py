"""The portal API over the real assistant and the real bulletin: every endpoint, auth, and the 4xx cases."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from assistant.web.api import create_app
from assistant.web.security import key_id
from assistant.web.service import ServedAssistant
from tests.conftest import xlsx_bytes


@pytest.fixture
def audit_file(tmp_path):
    return tmp_path / "audit.jsonl"


@pytest.fixture
def api_settings(settings, audit_file):
    return settings.with_overrides(audit_log=audit_file)


@pytest.fixture
def client(assistant, api_settings) -> TestClient:
    return TestClient(create_app(ServedAssistant.of(assistant), api_settings))


@pytest.fixture
def keyed_client(assistant, api_settings) -> TestClient:
    return TestClient(create_app(ServedAssistant.of(assistant), api_settings.with_overrides(api_keys="alpha-key-123, beta-key-456")))


# ---------------------------------------------------------------- endpoints


def test_health_is_open(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["documents"] == 1 and body["clauses"] > 100


def test_ask_returns_cited_answer_and_audits(client, bulletin_text, audit_file):
    response = client.post("/api/ask", json={"question": "2030年非化石能源消费比重的目标是多少？"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "answer", "intent", "confidence", "abstained", "citations", "answer_id"}
    assert "31%" in body["answer"] and not body["abstained"]
    citation = body["citations"][0]
    assert bulletin_text[citation["start"] : citation["end"]] == citation["quote"]
    entry = audited(client)[-1]
    assert entry["question"] == body["question"] and entry["answer"] == body["answer"]
    assert entry["caller"] == "open" and entry["citations"][0]["clause_id"] == citation["clause_id"]
    assert entry["asked_at"] and entry["answer_id"] == body["answer_id"]


def audited(client: TestClient) -> list[dict]:
    """The audit database's questions, oldest first (written in the background: wait for them)."""
    import sqlalchemy as sa

    from assistant.audit import questions

    store = client.app.state.service.audit
    assert store.flush(10)
    with store.engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(questions).order_by(questions.c.asked_at)).mappings()]


def test_ask_with_history(client):
    history = [["2030年非化石能源消费比重的目标是多少？", "到2030年，非化石能源消费比重提高到31%以上。"]]
    response = client.post("/api/ask", json={"question": "那2025年呢？", "history": history})
    assert response.status_code == 200 and response.json()["question"] == "那2025年呢？"


def test_abstention_is_flagged(client):
    body = client.post("/api/ask", json={"question": "鹤城区计划哪一年实现碳中和？"}).json()
    assert body["abstained"] is True and "方案中未明确" in body["answer"]


@pytest.mark.parametrize(
    "payload",
    [{"question": ""}, {"question": "   "}, {}, {"question": 42}, {"question": "你好", "history": [["只有一半"]]}],
    ids=["empty", "blank", "missing", "not-a-string", "bad-history"],
)
def test_bad_questions_are_422(client, payload):
    response = client.post("/api/ask", json=payload)
    assert response.status_code == 422 and "detail" in response.json()


def test_over_long_question_is_422_with_message(client, settings):
    response = client.post("/api/ask", json={"question": "碳" * (settings.max_question_chars + 1)})
    assert response.status_code == 422
    body = response.json()  # the schema's maxLength, the same limit as the setting
    assert f"at most {settings.max_question_chars} characters" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "question"]


def test_huge_json_body_is_413(client):
    response = client.post("/api/ask", content=b'{"question": "' + b"x" * 400_000 + b'"}', headers={"content-type": "application/json"})
    assert response.status_code == 413 and "too large" in response.json()["detail"]


def test_targets_json_filters(client):
    by_unit = client.get("/api/targets", params={"unit": "林业局"}).json()
    assert by_unit["count"] == len(by_unit["targets"]) > 0
    assert any(row["value"] == "61.86" for row in by_unit["targets"])
    assert all("区林业局" in [row["lead_unit"], *row["partner_units"]] for row in by_unit["targets"])
    by_year = client.get("/api/targets", params={"year": 2030}).json()["targets"]
    assert by_year and all(row["year"] == 2030 for row in by_year)
    by_action = client.get("/api/targets", params={"action": "节能降碳"}).json()["targets"]
    assert by_action and all("节能降碳" in row["action"] for row in by_action)


@pytest.mark.parametrize(("url", "params"), [("/api/targets.xlsx", {}), ("/api/targets", {"format": "xlsx"})])
def test_targets_xlsx(client, url, params):
    response = client.get(url, params={**params, "year": 2030})
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(response.content)).active.values)
    headers = rows[0]
    assert headers[:3] == ("行动", "任务", "指标") and "方向" in headers
    statement, direction = headers.index("表述"), headers.index("方向")
    assert any(r[statement] == "提高到31%以上" and r[direction] == "提高、以上" for r in rows[1:])


def test_targets_bad_params_are_422(client):
    assert client.get("/api/targets", params={"format": "pdf"}).status_code == 422
    assert client.get("/api/targets", params={"year": "明年"}).status_code == 422


def test_clause_by_id(client, knowledge, bulletin_text):
    clause = knowledge.tasks()[0]
    body = client.get(f"/api/clauses/{clause.id}").json()
    assert body["id"] == clause.id and body["section"] == clause.section
    assert body["original"] == bulletin_text[clause.start : clause.end]


def test_unknown_clause_is_404(client):
    response = client.get("/api/clauses/no-such-clause")
    assert response.status_code == 404 and "no-such-clause" in response.json()["detail"]


def test_batch_xlsx_round_trip(client):
    data = xlsx_bytes([["序号", "问题"], [1, "2030年非化石能源消费比重的目标是多少？"], [2, None]])
    response = client.post("/api/batch", files={"file": ("问卷.xlsx", data)})
    assert response.status_code == 200
    assert response.headers["x-planqa-rows"] == "2" and response.headers["x-planqa-errors"] == "0"
    assert response.headers["x-planqa-skipped"] == "1"  # the blank row holds no question: skipped, not an error
    rows = list(load_workbook(io.BytesIO(response.content)).active.values)
    assert rows[0] == ("序号", "问题", "答案", "出处章节", "原文摘录", "置信度", "方案是否明确")
    assert "31%" in rows[1][2] and rows[1][6] == "是"
    assert rows[2][2] is None  # a skipped row is left as it was; the 说明 sheet lists it


def test_batch_csv_with_other_column(client):
    data = "编号,Question\n1,老旧小区改造谁牵头？\n".encode()
    response = client.post("/api/batch", files={"file": ("q.csv", data)}, data={"column": "Question"})
    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("编号,Question,答案") and "住房和城乡建设局" in lines[1]


def test_batch_oversized_upload_is_413(client):
    response = client.post("/api/batch", files={"file": ("big.csv", b"x" * (5 * 1024 * 1024 + 1))})
    assert response.status_code == 413 and "too large" in response.json()["detail"]


def test_batch_oversized_upload_small_limit(assistant, api_settings):
    small = TestClient(create_app(ServedAssistant.of(assistant), api_settings, max_upload_bytes=1000))
    response = small.post("/api/batch", files={"file": ("q.csv", "问题\n".encode() + b"a" * 2000)})
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("questions.txt", b"hello", "unsupported file type"),
        ("questions.xls", b"\xd0\xcf\x11\xe0", "unsupported file type"),
        ("questions.xlsx", b"not a zip at all", "not a valid .xlsx"),
        ("questions.csv", "序号,题目\n1,你好\n".encode(), "columns found: 序号, 题目"),
    ],
    ids=["txt", "xls", "fake-xlsx", "no-question-column"],
)
def test_batch_bad_files_are_400(client, name, data, needle):
    response = client.post("/api/batch", files={"file": (name, data)})
    assert response.status_code == 400 and needle in response.json()["detail"]


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/batch", "/api/targets", "/api/clauses/{clause_id}", "/api/health"} <= set(paths)


# ---------------------------------------------------------------- auth, audit, CORS


PROTECTED = [
    ("post", "/api/ask", {"json": {"question": "老旧小区改造谁牵头？"}}),
    ("get", "/api/targets", {}),
    ("get", "/api/targets.xlsx", {}),
    ("get", "/api/clauses/anything", {}),
    ("post", "/api/batch", {"files": {"file": ("q.csv", "问题\n你好\n".encode())}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), PROTECTED, ids=[p[1] for p in PROTECTED])
def test_keys_required_when_configured(keyed_client, method, path, kwargs):
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic alpha-key-123"}):
        response = getattr(keyed_client, method)(path, headers=headers, **kwargs)
        assert response.status_code == 401, headers
        assert "API key" in response.json()["detail"]


def test_health_open_even_with_keys(keyed_client):
    assert keyed_client.get("/api/health").status_code == 200


def test_valid_keys_accepted_both_ways(keyed_client):
    assert keyed_client.get("/api/targets", headers={"Authorization": "Bearer alpha-key-123"}).status_code == 200
    assert keyed_client.get("/api/targets", headers={"X-API-Key": "beta-key-456"}).status_code == 200


def test_no_keys_configured_means_open(client):
    assert client.get("/api/targets").status_code == 200


def test_audit_names_key_by_hash_never_the_key(keyed_client, audit_file):
    response = keyed_client.post("/api/ask", json={"question": "老旧小区改造谁牵头？"}, headers={"X-API-Key": "beta-key-456"})
    assert response.status_code == 200
    rows = audited(keyed_client)
    assert "beta-key-456" not in json.dumps(rows, ensure_ascii=False, default=str)
    recorded = rows[-1]["caller"]
    assert recorded == key_id("beta-key-456", keyed_client.app.state.audit_secret)
    assert recorded[4:] not in hashlib.sha256(b"beta-key-456").hexdigest()  # keyed, not a bare hash


def test_cors_allow_list(assistant, api_settings):
    cors = TestClient(create_app(ServedAssistant.of(assistant), api_settings.with_overrides(cors_origins="https://portal.example.gov.cn")))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = cors.options("/api/ask", headers={"Origin": "https://portal.example.gov.cn", **preflight})
    assert allowed.headers.get("access-control-allow-origin") == "https://portal.example.gov.cn"
    other = cors.options("/api/ask", headers={"Origin": "https://evil.example.com", **preflight})
    assert "access-control-allow-origin" not in other.headers


# ---------------------------------------------------------------- bugs are not the caller's fault


class Broken:
    """The real assistant whose ask() fails the way a bug would: with a builtin exception."""

    def __init__(self, assistant, error: Exception):
        self.assistant, self.error = assistant, error

    @property
    def knowledge(self):
        return self.assistant.knowledge

    def ask(self, question, history=None):
        raise self.error

    def prefetch(self, questions):
        self.assistant.prefetch(questions)

    def problem(self):
        return self.assistant.problem()


@pytest.mark.parametrize("error", [ValueError("max() arg is an empty sequence"), KeyError("s9.9")], ids=["ValueError", "KeyError"])
def test_internal_error_is_500_not_a_bad_question(assistant, api_settings, error, caplog):
    broken = TestClient(create_app(ServedAssistant.of(Broken(assistant, error)), api_settings), raise_server_exceptions=False)
    response = broken.post("/api/ask", json={"question": "区长调研了什么？"})
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert "internal error" in detail and "empty sequence" not in detail and "s9.9" not in detail
    assert any(r.exc_info and r.exc_info[1] is error for r in caplog.records)  # the traceback is logged


def test_internal_error_in_batch_is_a_cell_not_a_400(assistant, api_settings):
    broken = TestClient(create_app(ServedAssistant.of(Broken(assistant, ValueError("bug"))), api_settings), raise_server_exceptions=False)
    response = broken.post("/api/batch", files={"file": ("q.csv", "问题\n老旧小区改造谁牵头？\n".encode())})
    assert response.status_code == 200 and response.headers["x-planqa-errors"] == "1"
    assert "internal error" in response.content.decode("utf-8-sig").splitlines()[1]
