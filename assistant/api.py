"""The portal API: the assistant over HTTP for the government portal and other office systems.

`create_app(assistant, settings)` returns a FastAPI app with /api/ask, /api/batch, /api/targets,
/api/clauses/{id} and /api/health (OpenAPI at /docs). Deployment is configured by these settings
(assistant/config.py, from their environment variables):

- PLANQA_API_KEYS: comma-separated keys; when set, every /api call but /api/health needs one, as
  `Authorization: Bearer KEY` or `X-API-Key: KEY` (else 401).
- PLANQA_AUDIT_LOG: where each question is appended as a JSON line (default index_dir/audit.jsonl);
  the line names the caller by a short hash of its key, never the key itself.
- PLANQA_CORS_ORIGINS: comma-separated origins allowed to call from a browser (default: none).

Errors are JSON {"detail": "中文 / English"}: a `PlanqaError` (bad question, bad file, index not
ready) is a 4xx (503 for the index) with its message; anything else is a bug, logged with its
traceback and answered 500 "internal error", never blamed on the caller's input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StringConstraints
from starlette.background import BackgroundTask
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .batch import MAX_ROWS
from .config import Settings
from .errors import INTERNAL_ERROR, IndexError_, PlanqaError, QuestionError
from .knowledge import KnowledgeAnswerer
from .models import Answer, Answerer, History, Starting

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a questionnaire of thousands of questions is well below this
MAX_JSON_BYTES = 256 * 1024  # /api/ask bodies: a question and a short history
MAX_BATCH_ROWS = MAX_ROWS  # above this, one HTTP request would hold a worker for too long: use `planqa batch`
MAX_HISTORY_TURNS = 20
XLSX_MAGIC = b"PK\x03\x04"
DOCS_ASSETS = "/docs-assets"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------- shared service


class AuditLog:
    """Append-only JSON lines; a lock keeps concurrent requests from interleaving lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)  # a bad PLANQA_AUDIT_LOG fails at start, not on the first question

    def record(self, key_id: str, channel: str, answer: Answer) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "key": key_id,
            "channel": channel,
            "question": answer.question,
            "answer": answer.answer,
            "abstained": answer.abstained,
            "confidence": round(answer.confidence, 3),
            "citations": [{"clause_id": c.clause_id, "section": c.section, "quote": c.quote} for c in answer.citations],
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        try:
            with self._lock, open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError:  # losing an audit line must be loud, but must not fail the user's question
            log.exception("audit log %s not writable", self.path)


class AskService:
    """The one assistant behind the API, the page and batch uploads: asks and audits.

    No lock here: ask() is thread-safe (tests/test_faults.py asks from 16 threads at once); the
    retriever embeds one query at a time itself, so the rest of a request runs concurrently.
    """

    def __init__(self, assistant: KnowledgeAnswerer, audit: AuditLog) -> None:
        self.assistant = assistant
        self.audit = audit

    @property
    def ready(self) -> bool:
        return not isinstance(self.assistant, Starting) or self.assistant.ready

    @property
    def status(self) -> str:
        return self.assistant.status if isinstance(self.assistant, Starting) else "ready"

    @property
    def error(self) -> str | None:
        """Why the assistant could not start (None while it starts, or once it is ready)."""
        return self.assistant.error if isinstance(self.assistant, Starting) else None

    @property
    def knowledge(self):
        return self.assistant.knowledge

    def problem(self) -> str | None:
        """Why a ready assistant cannot answer now (its vector store's server is down), or None."""
        assistant = self.assistant.get() if isinstance(self.assistant, Starting) else self.assistant
        check = getattr(getattr(assistant, "retriever", None), "problem", None)
        return check() if callable(check) else None

    def ask(self, question: str, history: History | None = None, *, key_id: str = "web", channel: str = "web") -> Answer:
        answer = self.assistant.ask(question, history=history)
        self.audit.record(key_id, channel, answer)
        return answer

    def asker(self, key_id: str, channel: str) -> Answerer:
        """An answerer for batch.answer_questionnaire that audits as this caller."""
        service = self

        class _Asker:
            def ask(self, question: str, history: History | None = None) -> Answer:
                return service.ask(question, history, key_id=key_id, channel=channel)

        return _Asker()


# ---------------------------------------------------------------- auth


def key_id(key: str, secret: bytes) -> str:
    """What the audit log records instead of the key: an HMAC under a server secret, so that even a
    short key cannot be found from the log by hashing guesses."""
    return "key-" + hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def matches_key(supplied: str | None, keys: list[bytes]) -> bool:
    """Compare against every key, constant-time, so timing says nothing about which key was close."""
    supplied_bytes = (supplied or "").encode("utf-8")
    matches = [hmac.compare_digest(supplied_bytes, k) for k in keys]
    return bool(supplied) and any(matches)


def audit_secret(settings: Settings) -> bytes:
    """settings.audit_secret, else a random secret kept beside the index (created once, mode 0600)."""
    if settings.audit_secret:
        return settings.audit_secret.encode("utf-8")
    path = Path(settings.index_dir) / ".audit-secret"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text("utf-8").strip().encode("utf-8")
    except FileExistsError:  # another worker created it a moment ago
        return path.read_text("utf-8").strip().encode("utf-8")
    except OSError as exc:  # a read-only index: ids still keyed, but not stable across restarts
        log.warning("cannot keep the audit secret in %s (%s): set PLANQA_AUDIT_SECRET; using a per-process one", path, exc)
        return secrets.token_bytes(32)


class RateLimiter:
    """A token bucket per caller: `per_minute` requests a minute, with bursts up to that many."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, caller: str) -> int:
        """0 when the call may go ahead (and is counted), else how long to wait before trying again."""
        if self.capacity <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[caller] = (tokens - 1, now)
                return 0
            self._buckets[caller] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))


bearer_scheme = HTTPBearer(auto_error=False, description="Authorization: Bearer KEY (a key from PLANQA_API_KEYS)")
header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: KEY")


def require_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header: Annotated[str | None, Depends(header_scheme)],
) -> str:
    """The dependency guarding /api: returns the caller's key id ("open" when no keys are configured)."""
    caller = _caller(request, (bearer.credentials if bearer else None) or header or "")
    wait = request.app.state.rate_limiter.wait_seconds(caller if caller != "open" else f"open:{_client_host(request)}")
    if wait:
        raise HTTPException(
            429, f"请求过于频繁 / too many requests: try again in {wait} s", headers={"Retry-After": str(wait)}
        )
    return caller


def _client_host(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _caller(request: Request, supplied: str) -> str:
    keys: list[bytes] = request.app.state.api_keys
    if not keys:
        return "open"
    if matches_key(supplied, keys):
        return key_id(supplied, request.app.state.audit_secret)
    raise HTTPException(
        401,
        "缺少或无效的API密钥 / missing or invalid API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
        headers={"WWW-Authenticate": "Bearer"},
    )


Caller = Annotated[str, Depends(require_key)]


# ---------------------------------------------------------------- request size


class BodyLimit(Exception):
    pass


class BodyLimitMiddleware:
    """413 for /api bodies over the limit, by Content-Length or by counting a chunked stream."""

    def __init__(self, app: ASGIApp, upload_limit: int, json_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.json_limit = json_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"].startswith("/api/batch") else self.json_limit
        length = dict(scope["headers"]).get(b"content-length")
        if length and length.isdigit() and int(length) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
            await self._chunked(scope, receive, send, limit)
            return
        seen, started = 0, False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyLimit
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyLimit:
            if not started:
                await _too_large(limit)(scope, receive, send)


    async def _chunked(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A body without Content-Length is read up to the limit before the app sees it: once FastAPI
        is parsing, a refusal would come out as its own 400 "error parsing the body"."""
        messages: list[Message] = []
        seen, more = 0, True
        while more:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > limit:
                await _too_large(limit)(scope, receive, send)
                return
            more = message["type"] == "http.request" and message.get("more_body", False)

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class SecurityHeadersMiddleware:
    """Headers for a page that a portal embeds: who may frame it, no MIME sniffing, no referrer leaks.

    img-src keeps the page from fetching images elsewhere (a markdown image in a question).
    """

    def __init__(self, app: ASGIApp, frame_ancestors: str) -> None:
        self.app = app
        policy = f"frame-ancestors {frame_ancestors}; img-src 'self' data: blob:; object-src 'none'; base-uri 'self'"
        self.headers = [
            (b"content-security-policy", policy.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"请求过大 / request too large: the limit is {_size(limit)}"},
        status_code=413,
    )


def _size(limit: int) -> str:
    return f"{limit / 1024 / 1024:.0f} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


# ---------------------------------------------------------------- schemas


HistoryText = Annotated[str, StringConstraints(max_length=4000)]


class AskRequest(BaseModel):
    question: str = Field(description="the question, in Chinese; at most settings.max_question_chars characters")
    history: list[tuple[HistoryText, HistoryText]] | None = Field(
        default=None,
        max_length=MAX_HISTORY_TURNS,
        description="earlier turns as [question, answer] pairs, oldest first, for follow-up questions",
    )


class CitationOut(BaseModel):
    doc: str
    clause_id: str
    section: str
    quote: str = Field(description="verbatim slice of the source file")
    start: int
    end: int
    plan: str = Field("", description="title of the plan cited")


class AnswerOut(BaseModel):
    question: str
    answer: str
    intent: str
    confidence: float
    abstained: bool = Field(description="true when the plan does not state the answer (方案中未明确)")
    citations: list[CitationOut]


class ErrorOut(BaseModel):
    """Every error body: one message, or for a malformed request body (422) FastAPI's list of field errors."""

    detail: str | list[dict[str, Any]] = Field(description="中文 / English message saying what to do")


ERROR_MEANINGS = {
    400: "the file is not a usable xlsx/csv questionnaire (type, column, size in rows/columns, chart sheet)",
    401: "missing or invalid API key",
    404: "no such clause",
    413: "body or upload too large",
    422: "empty, over-long or malformed question or parameters",
    429: "too many requests for this key: see the Retry-After header",
    500: "internal error (logged on the server)",
    503: "the index cannot be loaded or its vector store (Milvus server) does not answer (the reason in detail), or it is still being built",
}
BINARY_RESPONSE = {
    "description": "the questionnaire with the answer columns added",
    "content": {
        XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
    },
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` for these error codes, with their real body model, for generated clients."""
    return {code: {"model": ErrorOut, "description": ERROR_MEANINGS[code]} for code in codes}


# ---------------------------------------------------------------- the app


def create_app(assistant: KnowledgeAnswerer, settings: Settings, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The API app; serve.py mounts the web page on the same app."""
    from fastapi_offline import FastAPIOffline

    # /docs and /redoc with their scripts served from the package: an intranet has no CDN.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        title="planqa 政策规划问答助手 API",
        description="Exact, cited answers over the loaded policy plans (/api/docs lists them). Auth: see PLANQA_API_KEYS.",
        version="0.1.0",
    )
    service = AskService(assistant, AuditLog(settings.audit_path.expanduser()))
    app.state.service = service
    app.state.settings = settings
    app.state.api_keys = [k.encode("utf-8") for k in settings.api_keys]
    app.state.audit_secret = audit_secret(settings)
    app.state.rate_limiter = RateLimiter(settings.rate_limit)
    _add_middleware(app, max_upload_bytes, settings.cors_origins)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors)
    _add_error_handlers(app)
    _add_routes(app, service, max_upload_bytes)
    return app


def _add_middleware(app: FastAPI, max_upload_bytes: int, origins: tuple[str, ...]) -> None:
    from fastapi.middleware.cors import CORSMiddleware

    # Added first = innermost: its 413s then pass through CORS and carry the headers a browser needs.
    # Multipart framing adds a little to the file itself; the endpoint enforces the exact file limit.
    app.add_middleware(BodyLimitMiddleware, upload_limit=max_upload_bytes + 64 * 1024, json_limit=MAX_JSON_BYTES)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Content-Disposition", "X-Planqa-Rows", "X-Planqa-Errors", "X-Planqa-Skipped"],
        )


def error_status(exc: PlanqaError) -> int:
    """The HTTP status of an error the caller or the operator can act on."""
    if isinstance(exc, QuestionError):
        return 422
    if isinstance(exc, IndexError_):
        return 503  # not the caller's fault: the index is being built, or the operator must rebuild it
    return 400


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PlanqaError)
    async def planqa_error(request: Request, exc: PlanqaError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=error_status(exc))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        """A bug must still answer in JSON, and must not leak a traceback to the caller."""
        log.error("internal error on %s", request.url.path, exc_info=exc)
        return JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)


def _add_routes(app: FastAPI, service: AskService, max_upload_bytes: int) -> None:
    @app.get("/api/health", tags=["meta"], operation_id="health", responses=error_responses(500, 503))
    def health() -> dict:
        """Open (no key): for load balancers. `status` is "loading" while the index is being built;
        503 "unhealthy" with the reason when it cannot be loaded, so traffic goes elsewhere."""
        if not service.ready:
            if service.error:
                return JSONResponse({"status": "unhealthy", "detail": service.status}, status_code=503)
            return {"status": "loading", "detail": service.status}
        problem = service.problem()
        if problem:
            return JSONResponse({"status": "unhealthy", "detail": problem}, status_code=503)
        knowledge = service.knowledge
        return {"status": "ok", "documents": len(knowledge.documents), "clauses": len(knowledge.clauses)}

    @app.post("/api/ask", response_model=AnswerOut, tags=["ask"], operation_id="ask", responses=error_responses(401, 413, 422, 429, 500))
    def ask(body: AskRequest, caller: Caller) -> dict:
        """Answer one question with verbatim citations; pass `history` for follow-ups."""
        history = [(q, a) for q, a in body.history or []] or None
        return service.ask(body.question, history, key_id=caller, channel="api").to_dict()

    @app.post("/api/batch", tags=["ask"], response_class=FileResponse, operation_id="batch",
              responses={200: BINARY_RESPONSE, **error_responses(400, 401, 413, 422, 429, 500)})
    def batch(
        caller: Caller,
        file: Annotated[UploadFile, File(description=".xlsx or .csv with a question column")],
        column: Annotated[str, Form()] = "问题",
        sheet: Annotated[str | None, Form()] = None,
    ) -> FileResponse:
        """Upload a questionnaire, get it back with 答案, 出处章节, 原文摘录, 置信度, 方案是否明确 added."""
        return _run_batch(service, caller, file, column, sheet, max_upload_bytes)

    _add_data_routes(app, service)


def _add_data_routes(app: FastAPI, service: AskService) -> None:
    """The ledger, the loaded plans and single clauses: reads, behind the same key as the questions."""
    @app.get("/api/targets", tags=["data"], operation_id="targets", responses=error_responses(401, 422, 429, 500))
    def targets(
        caller: Caller,
        unit: Annotated[str | None, Query(description="responsible unit, any spelling or short form, e.g. 发改局")] = None,
        year: Annotated[int | None, Query(description="due year, e.g. 2025")] = None,
        action: Annotated[str | None, Query(description="action heading, or part of it, e.g. 节能降碳")] = None,
        plan: Annotated[str | None, Query(description="plan: part of its title, its region, 文号 or file name, e.g. 苏州")] = None,
        format: Literal["json", "xlsx"] = "json",
    ) -> Any:
        """The targets ledger (目标任务台账), filtered; json has English field names, xlsx Chinese headers."""
        from .knowledge import ledger_rows

        rows = ledger_rows(service.knowledge, action=action, unit=unit, year=year, plan=plan)
        if format == "xlsx":
            from .tables import render_ledger

            headers = {"Content-Disposition": "attachment; filename=\"targets.xlsx\"; filename*=UTF-8''%E7%9B%AE%E6%A0%87%E5%8F%B0%E8%B4%A6.xlsx"}
            return Response(render_ledger(rows, "xlsx"), media_type=XLSX_MEDIA_TYPE, headers=headers)
        return {"count": len(rows), "targets": [row.to_dict() for row in rows]}

    @app.get("/api/docs", tags=["data"], operation_id="docs", responses=error_responses(401, 429, 500))
    def docs(caller: Caller) -> dict:
        """The plans loaded: title, level, region, 文号, date, period, and whether the title is only the file name."""
        from .identity import document_rows

        rows = document_rows(service.knowledge)
        return {"count": len(rows), "docs": rows}

    @app.get("/api/clauses/{clause_id}", tags=["data"], operation_id="clause", responses=error_responses(401, 404, 429, 500))
    def clause(clause_id: str, caller: Caller) -> dict:
        """One clause with its section path, span, and the verbatim original text (`original`)."""
        knowledge = service.knowledge
        try:
            found = knowledge.clause(clause_id)
        except KeyError as exc:
            raise HTTPException(404, f"找不到条款 / no clause {clause_id!r}") from exc
        return {**found.to_dict(), "original": knowledge.quote(found.doc, found.start, found.end)}


def download_stem(filename: str | None) -> str:
    """The upload's bare name for the answered copy: clients may send "../../x.xlsx" or "C:\\x.xlsx"."""
    base = re.split(r"[\\/]", filename or "")[-1]
    return Path(base).stem.strip(". ") or "questions"


def _run_batch(service: AskService, caller: str, upload: UploadFile, column: str, sheet: str | None, limit: int) -> FileResponse:
    """Validate the upload, answer it in a temporary folder, and stream the result back."""
    from .batch import answer_questionnaire

    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise HTTPException(400, f"不支持的文件类型 / unsupported file type {suffix or '(none)'!r}: upload .xlsx or .csv")
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"文件过大 / file too large: the limit is {_size(limit)}")
    if suffix == ".xlsx" and not data.startswith(XLSX_MAGIC):
        raise HTTPException(400, "不是有效的xlsx文件 / not a valid .xlsx file (is it an old .xls? save as .xlsx)")
    workdir = Path(tempfile.mkdtemp(prefix="planqa-batch-"))
    try:
        source = workdir / f"questions{suffix}"
        source.write_bytes(data)
        target = workdir / f"answered{suffix}"
        report = answer_questionnaire(
            service.asker(caller, "batch"), source, target, column=column, sheet=sheet, progress=False, max_rows=MAX_BATCH_ROWS
        )
    except BaseException:  # a PlanqaError becomes its 4xx in the error handler
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    stem = download_stem(upload.filename)
    return FileResponse(
        target,
        filename=f"{stem}_答案{suffix}",
        media_type=XLSX_MEDIA_TYPE if suffix == ".xlsx" else "text/csv; charset=utf-8",
        headers={
            "X-Planqa-Rows": str(report.rows),
            "X-Planqa-Errors": str(report.errors),
            "X-Planqa-Skipped": str(report.skipped),
        },
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )
