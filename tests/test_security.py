"""The attacker suite: every probe of issue 14 replayed against a running server (uvicorn in a thread).

Each probe speaks gradio's own wire protocol (`/config`, `/gradio_api/queue/join`, `/queue/data`) or
plain HTTP, as a script would; none goes through the page's JavaScript.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from assistant.errors import InputFileError, SettingsError
from assistant.office.questionnaire import answer_questionnaire
from assistant.office.sheets import MAX_COLUMNS, MAX_CSV_FIELD_CHARS, MAX_ROWS, read_table
from assistant.web.api import create_app
from assistant.web.app import build_app
from assistant.web.render import plain_text
from assistant.web.security import key_id
from assistant.web.service import ServedAssistant
from tests.conftest import StandIn, served_page, xlsx_bytes

KEY = "s3cret-key-for-tests"
SERVER_FILES = ["/etc/passwd", "/proc/self/environ"]


def env_settings(settings):
    """The test session's settings as a server started now would read them, PLANQA_* variables included."""
    from assistant.config import load_settings

    return load_settings(corpus_dir=settings.corpus_dir, index_dir=settings.index_dir)



@pytest.fixture(scope="module")
def open_server(assistant, settings, tmp_path_factory):
    """No keys: the page is open by design, so only the file checks stand between a script and the disk."""
    with served_page(assistant, settings, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_server(assistant, settings, tmp_path_factory):
    with served_page(assistant, settings, tmp_path_factory, keys=(KEY,)) as url:
        yield url


# ---------------------------------------------------------------- gradio's wire protocol


def file_data(path: str) -> dict:
    return {"path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def hostile_value(kind: str, path: str, column: str) -> object:
    """What a script would send for an input of this kind to make the server read `path`."""
    message = [{"role": "user", "content": [{"type": "file", "file": file_data(path)}]}]
    return {
        "chatbot": message,
        "state": message,
        "file": file_data(path),
        "textbox": column,
        "dropdown": "",
        "dataset": 0,
    }.get(kind)


def call_gradio(base: str, fn_index: int, data: list, cookies: dict | None = None, session: str | None = None) -> dict:
    """One event through the queue, as the browser and gradio_client do; returns the final message."""
    session = session or uuid.uuid4().hex
    join = httpx.post(
        f"{base}/gradio_api/queue/join", cookies=cookies,
        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None},
    )
    if join.status_code != 200:
        return {"refused": join.status_code}
    with httpx.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}, cookies=cookies, timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    return {}


def probe_every_event(base: str, path: str, column: str = "问题") -> list[str]:
    """Fire every event of the page with hostile inputs; return the text of everything that came back,
    each file URL in it fetched."""
    config = httpx.get(f"{base}/config").json()
    kinds = {c["id"]: c["type"] for c in config["components"]}
    seen = []
    for dependency in config["dependencies"]:
        data = [hostile_value(kinds[i], path, column) for i in dependency["inputs"]]
        reply = json.dumps(call_gradio(base, dependency["id"], data), ensure_ascii=False)
        seen.append(reply)
        for url in _file_urls(reply):
            seen.append(httpx.get(url if url.startswith("http") else base + url).text)
    return seen


def _file_urls(text: str) -> list[str]:
    import re

    return re.findall(r'"url": "([^"]+)"', text)


# ---------------------------------------------------------------- no server file leaves (critical)


@pytest.mark.parametrize("mount", ["", "/embed"])
@pytest.mark.parametrize("target", SERVER_FILES)
def test_no_event_serves_a_server_file(open_server, mount, target):
    before = _upload_folder_names()
    replies = "\n".join(probe_every_event(open_server + mount, target))
    secret = Path(target).read_bytes().decode("utf-8", "replace")
    first_line = secret.split("\n")[0].split("\0")[0]
    assert first_line and first_line not in replies
    assert Path(target).name not in _upload_folder_names() - before  # refused calls leave no copy either


def test_gradio_file_route_refuses_server_files(open_server, settings):
    in_cwd = Path.cwd() / "pyproject.toml"
    secret = Path(settings.index_dir) / ".audit-secret"
    for target in [*SERVER_FILES, str(in_cwd), str(secret)]:
        for mount in ("", "/embed"):
            assert httpx.get(f"{open_server}{mount}/gradio_api/file={target}").status_code in (403, 404), target


def test_trusted_proxy_header_guards_the_page(assistant, settings, audit_env):
    app = build_app(env_settings(settings).with_overrides(trusted_user_header="X-Forwarded-User"), ServedAssistant.of(assistant))
    client = TestClient(app)
    for mount in ("", "/embed"):
        assert client.get(f"{mount}/config").status_code == 401
        assert client.get(f"{mount}/config", headers={"X-Forwarded-User": "zhang.san"}).status_code == 200


def test_the_batch_tab_refuses_what_is_not_an_upload_as_the_users_fault(tmp_path):
    from assistant.errors import PlanqaError, UploadError
    from assistant.web.files import own_upload

    with pytest.raises(UploadError, match="upload a file first"):
        own_upload(None)
    (tmp_path / "q.csv").write_text("问题\n")
    with pytest.raises(UploadError, match="only a file uploaded here") as raised:
        own_upload(str(tmp_path / "q.csv"))
    assert isinstance(raised.value, PlanqaError) and not isinstance(raised.value, ValueError)


def test_batch_tab_reads_only_its_own_upload(open_server, tmp_path):
    secret = tmp_path / "server-side.csv"
    secret.write_text("SECRET_HEADER_Q7,other\nvalue,1\n", "utf-8")
    replies = "\n".join(probe_every_event(open_server, str(secret), column="no-such-column"))
    assert "SECRET_HEADER_Q7" not in replies
    assert "只能处理本次上传的文件" in replies or "not uploaded" in replies or "Cannot move" in replies


def test_page_events_are_not_a_named_api(open_server):
    from gradio_client import Client

    info = httpx.get(f"{open_server}/gradio_api/info").json()
    assert not info["named_endpoints"] and not info["unnamed_endpoints"]
    client = Client(open_server, verbose=False)
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises ValueError or AppError by version
        client.predict("老旧小区改造谁牵头？", api_name="/lambda")
    with pytest.raises(Exception):  # noqa: B017
        client.predict("老旧小区改造谁牵头？", api_name="/turn")


def _event(base: str, name: str) -> int:
    config = httpx.get(f"{base}/config").json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == name)


def test_the_page_still_answers_and_follows_up(open_server):
    """Without a browser: the chat event in one session, the history kept on the server."""
    session, turn = uuid.uuid4().hex, _event(open_server, "turn")
    first = call_gradio(open_server, turn, ["2030年非化石能源消费比重的目标是多少？", None, None], session=session)
    chat = first["output"]["data"][1]
    assert "31%" in json.dumps(chat, ensure_ascii=False)
    second = call_gradio(open_server, turn, ["那2025年呢？", None, None], session=session)
    chat = second["output"]["data"][1]
    assert len(chat) == 4 and "2025" in json.dumps(chat[3], ensure_ascii=False) and "27%" in json.dumps(chat[3], ensure_ascii=False)


def test_the_batch_tab_answers_its_own_upload(open_server):
    upload = httpx.post(f"{open_server}/gradio_api/upload", files={"files": ("q.csv", "问题\n老旧小区改造谁牵头？\n".encode())})
    path = upload.json()[0]
    reply = call_gradio(open_server, _event(open_server, "answer_file"), [file_data(path), "问题", ""])
    summary, result = reply["output"]["data"]
    assert "共 1 题" in summary
    answered = httpx.get(result["url"]).content.decode("utf-8-sig")
    assert "牵头" in answered and "出处章节" in answered


def _upload_folder_names() -> set[str]:
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder())
    return {p.name for p in folder.rglob("*")} if folder.is_dir() else set()


# ---------------------------------------------------------------- one access policy


def test_page_and_its_api_need_the_key(keyed_server):
    for mount in ("", "/embed"):
        base = keyed_server + mount
        assert httpx.get(f"{base}/config").status_code == 401
        assert call_gradio(base, 1, ["老旧小区改造谁牵头？", None, None]) == {"refused": 401}
        upload = httpx.post(f"{base}/gradio_api/upload", files={"files": ("q.csv", b"a")})
        assert upload.status_code == 401
        login = httpx.post(f"{base}/login", data={"username": "anyone", "password": "wrong"})
        assert login.status_code in (400, 401)
        login = httpx.post(f"{base}/login", data={"username": "anyone", "password": KEY})
        assert login.status_code == 200
        assert httpx.get(f"{base}/config", cookies=login.cookies).status_code == 200


def test_gradio_client_needs_the_key(keyed_server):
    from gradio_client import Client

    with pytest.raises(Exception):  # noqa: B017 - it cannot even read the config
        Client(keyed_server, verbose=False)


# Reachable without a key, and why. A route not listed here must refuse an anonymous caller.
PUBLIC = {
    "/api/health": "load balancers",
    "/docs": "API documentation", "/docs/oauth2-redirect": "API documentation", "/redoc": "API documentation",
    "/openapi.json": "API documentation", "/docs-assets/{path:path}": "API documentation assets",
    "/": "the login page", "/login": "the login form", "/logout": "clears the login",
    "/config": "refuses with 401 unless logged in (checked)", "/manifest.json": "static",
    "/favicon.ico": "static", "/robots.txt": "static", "/theme.css": "static", "/pwa_icon": "static",
    "/static/{path:path}": "gradio's static files", "/assets/{path:path}": "gradio's static files",
    "/svelte/{path:path}": "gradio's static files", "/favicon.ico/": "static",
    "/gradio_api/startup-events": "starts the queue",
    "/gradio_api/token": "the caller's own login token", "/gradio_api/app_id": "an id",
    "/gradio_api/login_check": "says whether logged in", "/gradio_api/vibe-edit": "refuses outside dev mode",
    "/gradio_api/user": "the caller's own name", "/gradio_api/theme.css": "static", "/gradio_api/pwa_icon": "static",
    "/gradio_api/pwa_icon/{size}": "static", "/gradio_api/deep_link": "needs login (checked)",
    "/gradio_api/runs": "an empty page in the browser", "/gradio_api/mcp/schema": "no MCP server",
    "/monitoring/{key}": "403 without the monitoring key",
    "/gradio_api/stream/{event_id}": "needs the random id of a running event, which only a logged-in caller gets",
    "/gradio_api/stream/{event_id}/close": "same", "/gradio_api/reset": "same", "/gradio_api/cancel": "same",
    "/gradio_api/heartbeat/{session_hash}": "a never-ending stream of heartbeats, no data (not called here)",
    "/gradio_api/vibe-code": "403 outside gradio's vibe-edit mode", "/gradio_api/undo-vibe-edit": "same",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist.m3u8": "media streams: the page has none",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/{segment_id}.{ext}": "same",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist-file": "same",
    "/pwa_icon/{size}": "static", "/gradio_api/custom_component/{id}/{environment}/{type}/{file_name}": "no custom components",
}
REFUSED = {401, 403, 404, 405}


def _routes(app, prefix: str = ""):
    """Every route, walking mounted apps and included routers (FastAPI includes them lazily)."""
    for route in app.routes:
        if isinstance(route, Mount) and not hasattr(route.app, "routes"):  # static files
            yield prefix + route.path + "/{path:path}", ["GET"], route.path + "/{path:path}"
        elif isinstance(route, Mount):
            yield from _routes(route.app, prefix + route.path)
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router, prefix + getattr(route.include_context, "prefix", ""))
        elif hasattr(route, "methods") or hasattr(route, "path"):
            yield prefix + route.path, sorted(getattr(route, "methods", None) or {"GET"}), route.path


def _concrete(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", "x", path).replace("//", "/") or "/"


def test_every_route_refuses_an_anonymous_caller(assistant, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANQA_API_KEYS", KEY)
    monkeypatch.setenv("PLANQA_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    app = build_app(env_settings(settings), ServedAssistant.of(assistant))
    client = TestClient(app, raise_server_exceptions=False)
    routes = list(_routes(app))
    assert len(routes) > 30  # the mounts were walked, not only /api
    open_ones = []
    for full, methods, own in routes:
        for method in methods:
            if method in ("HEAD", "OPTIONS") or own.endswith("/heartbeat/{session_hash}"):
                continue
            status = client.request(method, _concrete(full), json={}).status_code
            public = own in PUBLIC or full in PUBLIC or own.rstrip("/") in PUBLIC
            if status >= 500 or (status not in REFUSED and not public):
                open_ones.append((method, full, status))
    assert not open_ones, f"routes open to a caller without a key: {open_ones}"


# ---------------------------------------------------------------- API keys, audit, rate, headers, bodies


@pytest.fixture
def audit_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANQA_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("PLANQA_API_KEYS", raising=False)
    monkeypatch.delenv("PLANQA_CORS_ORIGINS", raising=False)
    return tmp_path / "audit.jsonl"


@pytest.mark.parametrize("raw", [" , ", ",", "  "])
def test_blank_keys_refused_at_start(assistant, settings, audit_env, monkeypatch, raw):
    monkeypatch.setenv("PLANQA_API_KEYS", raw)
    if raw.strip():
        with pytest.raises(SettingsError, match="PLANQA_API_KEYS"):
            create_app(ServedAssistant.of(assistant), env_settings(settings))
    else:  # set to nothing at all: unset, the API is open (as documented)
        assert create_app(ServedAssistant.of(assistant), env_settings(settings)).state.api_keys == []


def test_audit_caller_id_is_keyed_by_a_server_secret(assistant, settings, audit_env, monkeypatch, tmp_path):
    monkeypatch.setenv("PLANQA_API_KEYS", "abc")
    client = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings)))
    client.post("/api/ask", json={"question": "老旧小区改造谁牵头？"}, headers={"X-API-Key": "abc"})
    import sqlalchemy as sa

    from assistant.audit import questions

    store = client.app.state.service.audit
    assert store.flush(10)
    with store.engine.connect() as connection:
        recorded = connection.execute(sa.select(questions.c.caller)).scalar_one()
    assert recorded.removeprefix("key-") not in hashlib.sha256(b"abc").hexdigest()
    secret_file = Path(settings.index_dir) / ".audit-secret"
    assert secret_file.stat().st_mode & 0o077 == 0
    assert recorded == key_id("abc", secret_file.read_text().strip().encode())
    other = settings.with_overrides(audit_secret="another-secret")
    assert create_app(ServedAssistant.of(assistant), other).state.audit_secret == b"another-secret"
    assert key_id("abc", b"another-secret") != recorded


def test_rate_limit_per_key_is_429_with_retry_after(assistant, settings, audit_env, monkeypatch):
    monkeypatch.setenv("PLANQA_API_KEYS", "k1,k2")
    client = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings).with_overrides(rate_limit=3)))
    codes = [client.get("/api/targets", headers={"X-API-Key": "k1"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/targets", headers={"X-API-Key": "k1"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1 and limited.json()["detail"]
    assert client.get("/api/targets", headers={"X-API-Key": "k2"}).status_code == 200  # per key
    assert client.get("/api/health").status_code == 200


def test_security_headers_everywhere(assistant, settings, audit_env):
    portal = "https://www.portal.example.gov.cn"
    app = build_app(env_settings(settings).with_overrides(frame_ancestors=f"'self' {portal}"), ServedAssistant.of(assistant))
    client = TestClient(app)
    for path in ("/", "/embed/", "/api/health", "/docs"):
        headers = client.get(path).headers
        assert f"frame-ancestors 'self' {portal}" in headers["content-security-policy"], path
        assert "img-src 'self' data: blob:" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"]


def test_chunked_body_over_256kb_is_413(assistant, settings, audit_env):
    client = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings)))

    def chunks():
        yield b'{"question": "'
        for _ in range(300):
            yield b"a" * 1024
        yield b'"}'

    response = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "256 KB" in response.json()["detail"]
    small = client.post("/api/ask", content=iter([b'{"question": "', "老旧小区改造谁牵头？".encode(), b'"}']),
                        headers={"Content-Type": "application/json"})
    assert small.status_code == 200


def test_markdown_in_a_question_stays_text():
    shown = plain_text("![x](http://evil.example/p.png) <img src=x> **bold**")
    assert "![" not in shown and "](" not in shown and "<img" not in shown and "**" not in shown
    assert "http" in shown and "evil" in shown  # still readable as typed


# ---------------------------------------------------------------- bounded work per request


def _wide_xlsx() -> bytes:
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"], workbook.active["A2"], workbook.active["XFD1500"] = "问题", "老旧小区改造谁牵头？", "x"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _chart_xlsx() -> bytes:
    import io

    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    workbook = Workbook()
    workbook.active.append(["问题"])
    workbook.active.append([1])
    chart = BarChart()
    chart.add_data(Reference(workbook.active, min_col=1, min_row=1, max_row=2))
    workbook.create_chartsheet("图表").add_chart(chart)
    workbook.active = 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_one_far_cell_is_refused_fast(assistant, settings, audit_env):
    data = _wide_xlsx()
    assert len(data) < 8000
    client = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings)))
    started = time.monotonic()
    response = client.post("/api/batch", files={"file": ("wide.xlsx", data)})
    assert response.status_code == 400 and str(MAX_COLUMNS) in response.json()["detail"]
    assert time.monotonic() - started < 5


def test_chart_sheet_is_a_clear_400(assistant, settings, audit_env):
    client = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings)))
    response = client.post("/api/batch", files={"file": ("chart.xlsx", _chart_xlsx())})
    assert response.status_code == 400 and "--sheet" in response.json()["detail"]


def test_row_cap_on_every_channel(tmp_path, assistant, settings, audit_env):
    rows = "问题\n" + "老旧小区改造谁牵头？\n" * (MAX_ROWS + 1)
    source = tmp_path / "many.csv"
    source.write_text(rows, "utf-8")
    with pytest.raises(InputFileError, match="too many questions"):
        read_table(source)
    assert len(read_table(source, max_rows=None).data_rows) == MAX_ROWS + 1  # the CLI's --max-rows
    client = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings)))
    response = client.post("/api/batch", files={"file": ("many.csv", rows.encode())})
    assert response.status_code == 400 and "too many questions" in response.json()["detail"]


def test_cli_takes_more_rows_only_by_flag():
    from assistant.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["batch", "q.csv", "-o", "a.csv"]).max_rows == MAX_ROWS
    assert parser.parse_args(["batch", "q.csv", "-o", "a.csv", "--max-rows", "5000"]).max_rows == 5000


def test_long_csv_field_is_read_and_an_over_long_one_is_a_clear_400(assistant, settings, audit_env, tmp_path):
    long_field = "问题,备注\n老旧小区改造谁牵头？," + "x" * 200_000 + "\n"
    source = tmp_path / "long.csv"
    source.write_text(long_field, "utf-8")
    assert len(read_table(source).data_rows) == 1  # over csv's default 131,072
    client = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings)))
    too_long = "问题,备注\n你好," + "x" * (MAX_CSV_FIELD_CHARS + 10) + "\n"
    response = client.post("/api/batch", files={"file": ("long.csv", too_long.encode())})
    assert response.status_code == 400 and "cannot read" in response.json()["detail"]


def test_formula_question_cell_is_named_as_a_formula(assistant, tmp_path):
    source = tmp_path / "formula.xlsx"
    source.write_bytes(xlsx_bytes([["问题"], ["老旧小区改造谁牵头？"], ["=A2"], [None], ["2030年非化石能源消费比重的目标是多少？"]]))
    target = tmp_path / "answered.xlsx"
    report = answer_questionnaire(assistant, source, target, progress=False)
    from openpyxl import load_workbook

    workbook = load_workbook(target)
    answers = [workbook.active.cell(row=r, column=2).value for r in range(2, 6)]
    assert answers[1] is None and answers[2] is None  # skipped rows are left as they were; 说明 says why
    reasons = [str(row[1]) for row in workbook["说明"].values if str(row[1]).startswith("第 ")]
    assert "formula" in reasons[0] and "问题为空" not in reasons[0]
    assert "blank" in reasons[1]  # neither is a question: both skipped with the reason, not errors
    assert (report.skipped, report.errors, report.answered) == (2, 0, 2)


# ---------------------------------------------------------------- documentation offline


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_nothing_from_the_internet(assistant, settings, audit_env, page):
    import re

    client = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings)))
    html = client.get(page).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets)
    assert not re.search(r"https?://", html), "an asset or font from outside the server"
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert "validatorUrl" not in html or '"validatorUrl": null' in html


def test_openapi_has_stable_operation_ids_and_declared_errors(assistant, settings, audit_env):
    spec = TestClient(create_app(ServedAssistant.of(assistant), env_settings(settings))).get("/openapi.json").json()
    operations = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    assert set(operations) == {
        "ask", "batch", "targets", "targets_xlsx", "report", "clause", "docs", "health", "feedback"
    }
    for name in ("ask", "batch", "targets", "targets_xlsx", "report", "clause", "docs"):
        for code in ("401", "429"):
            schema = operations[name]["responses"][code]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorOut"), (name, code)
    assert "404" in operations["clause"]["responses"] and "400" in operations["batch"]["responses"]
    assert "binary" in json.dumps(operations["batch"]["responses"]["200"])


@pytest.mark.parametrize(("name", "data", "needle"), [
    ("wide.xlsx", _wide_xlsx, f"at most {MAX_COLUMNS}"),
    ("chart.xlsx", _chart_xlsx, "--sheet"),
], ids=["far-cell", "chart-sheet"])
def test_cli_batch_refuses_hostile_workbooks_clearly(assistant, settings, tmp_path, monkeypatch, capsys, name, data, needle):
    from assistant.cli import main

    monkeypatch.setenv("PLANQA_INDEX", str(settings.index_dir))
    source = tmp_path / name
    source.write_bytes(data())
    started = time.monotonic()
    code = main(["--corpus", str(settings.corpus_dir), "batch", str(source), "-o", str(tmp_path / "out.xlsx"), "--no-progress"])
    assert code == 2 and needle in capsys.readouterr().err
    assert time.monotonic() - started < 60 and not (tmp_path / "out.xlsx").exists()


class _Echo(StandIn):
    """An answerer that needs no index: the answer repeats the question."""

    def ask(self, question, history=None):
        from assistant.models import Answer

        return Answer(question, f"答：{question}", "test", 0.9, False)


def test_xlsx_answered_as_csv_keeps_formulas(tmp_path):
    import csv

    source = tmp_path / "q.xlsx"
    source.write_bytes(xlsx_bytes([
        ["问题", "数量"], ["老旧小区改造谁牵头？", 2], ["光伏装机多少？", 3],
        ["合计", "=SUM(B2:B3)", "=B4*2"], ["=A2", None],
    ]))
    target = tmp_path / "answered.csv"
    report = answer_questionnaire(_Echo(), source, target, progress=False)
    rows = list(csv.reader(target.read_text("utf-8-sig").splitlines()))
    header = rows[0]
    assert rows[3][1:3] == ["=SUM(B2:B3)", "=B4*2"]  # no saved value (written by a program): the formula, not ""
    assert header[2] != "答案" and rows[3][2] == "=B4*2"  # the answers go after the formula's column
    assert rows[4][0] == "=A2" and "formula" in rows[4][header.index("答案")]
    assert rows[1][header.index("答案")] == "答：老旧小区改造谁牵头？"
    assert (report.answered, report.skipped) == (2, 2)
