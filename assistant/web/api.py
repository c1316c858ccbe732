"""The portal API: the assistant over HTTP for the government portal and other office systems.

`create_app(assistant, settings)` returns a FastAPI app with /api/ask, /api/batch, /api/targets,
/api/clauses/{id}, /api/feedback and /api/health (OpenAPI at /docs). Deployment is configured by these settings
(assistant/config.py, from their environment variables):

- PLANQA_API_KEYS: comma-separated keys; when set, every /api call but /api/health needs one, as
  `Authorization: Bearer KEY` or `X-API-Key: KEY` (else 401).
- PLANQA_AUDIT_DB: the audit and feedback database (assistant/audit.py; default the SQLite file
  index_dir/audit.db); each question names the caller by a keyed hash of its key, never the key itself.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.audit import MAX_COMMENT_CHARS, AuditedAnswerer, AuditStore
from assistant.config import Settings
from assistant.errors import INTERNAL_ERROR, IndexError_, PlanqaError, QuestionError
from assistant.facts.knowledge import KnowledgeAnswerer, ledger_rows
from assistant.models import Answer, History, LedgerRow, Starting
from assistant.office.questionnaire import MAX_ROWS
from assistant.web.ledger_views import ledger_row_model

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a questionnaire of thousands of questions is well below this
MAX_JSON_BYTES = 256 * 1024  # /api/ask bodies: a question and a short history
MAX_BATCH_ROWS = MAX_ROWS  # above this, one HTTP request would hold a worker for too long: use `planqa batch`
MAX_HISTORY_TURNS = 20
XLSX_MAGIC = b"PK\x03\x04"
DOCS_ASSETS = "/docs-assets"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------- shared service


class AskService:
    """The one assistant behind the API, the page and batch uploads: asks and audits.

    No lock here: ask() is thread-safe (tests/test_faults.py asks from 16 threads at once); the
    retriever embeds one query at a time itself, so the rest of a request runs concurrently.
    """

    def __init__(self, assistant: KnowledgeAnswerer, audit: AuditStore) -> None:
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

    def wait_until_ready(self) -> None:
        """Wait for the index, else raise IndexError_ (503): a batch must not answer every row with that error."""
        if not self.ready:
            _ = self.knowledge  # BackgroundAssistant waits for its build, then raises if it has none

    def problem(self) -> str | None:
        """Why a ready assistant cannot answer now (its vector store's server is down), or None."""
        assistant = self.assistant.get() if isinstance(self.assistant, Starting) else self.assistant
        check = getattr(getattr(assistant, "retriever", None), "problem", None)
        return check() if callable(check) else None

    def ask(self, question: str, history: History | None = None, *, key_id: str = "web", channel: str = "web") -> Answer:
        return self.ask_recorded(question, history, key_id=key_id, channel=channel)[0]

    def ask_recorded(
        self, question: str, history: History | None = None, *, key_id: str = "web", channel: str = "web"
    ) -> tuple[Answer, str]:
        """The answer and its audit id, which feedback (page or /api/feedback) refers to."""
        return self.asker(key_id, channel).ask_recorded(question, history)

    def asker(self, key_id: str, channel: str) -> AuditedAnswerer:
        """An answerer (e.g. for batch.answer_questionnaire) that audits as this caller."""
        return AuditedAnswerer(self.assistant, self.audit, key_id, channel)


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
BINARY_SCHEMA = {"type": "string", "format": "binary"}


class AskRequest(BaseModel):
    """The body of /api/ask; `question`'s length limit is the server's setting (see ask_request_model)."""

    question: str = Field(description="the question, in Chinese")
    history: list[tuple[HistoryText, HistoryText]] | None = Field(
        default=None,
        max_length=MAX_HISTORY_TURNS,
        description="earlier turns as [question, answer] pairs, oldest first, for follow-up questions",
    )


def ask_request_model(max_chars: int) -> type[AskRequest]:
    """AskRequest with the numeric limits this server enforces, so the OpenAPI document states them.

    The pattern asks for one visible character: a question of spaces is empty and refused (422).
    """
    question = (
        Annotated[str, StringConstraints(min_length=1, max_length=max_chars, pattern=r"\S")],
        Field(description=f"the question, in Chinese; 1 to {max_chars} characters, not only spaces"),
    )
    return create_model("AskRequest", __base__=AskRequest, question=question)


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
    answer_id: str | None = Field(None, description="this answer's id in the audit log: send it to /api/feedback")


class FeedbackIn(BaseModel):
    answer_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="the answer_id of an /api/ask response")
    rating: Literal[1, -1] = Field(description="1 = 👍 right and useful, -1 = 👎 wrong or unhelpful")
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS, description="optional: what was wrong, or the right answer")


class FeedbackOut(BaseModel):
    status: Literal["accepted"]
    answer_id: str


LedgerRowOut = ledger_row_model()  # the ledger's columns (models.LEDGER_COLUMNS), as every export has them


class TargetsOut(BaseModel):
    count: int
    targets: list[LedgerRowOut]


class DocOut(BaseModel):
    """One loaded plan, under the Chinese keys of `planqa docs` (aliases), English names in a client."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(description="the file name without its extension")
    title: str = Field(alias="标题")
    level: str = Field(alias="层级", description="国家/省/市州/县市区, or empty")
    region: str = Field(alias="地区")
    doc_number: str = Field(alias="文号")
    date: str = Field(alias="日期")
    period: str = Field(alias="期间")
    title_source: str = Field(alias="标题来源", description="正文, or 文件名 / file name when the text names no title")


class DocsOut(BaseModel):
    count: int
    docs: list[DocOut]


class ClauseOut(BaseModel):
    id: str
    doc: str
    section: str = Field(description="the section path, e.g. \"三、… > （二）…行动 > 4. …\"")
    kind: str = Field(description="goal / task / paragraph / event / meta / heading")
    text: str = Field(description="cleaned and normalised for matching")
    start: int
    end: int
    date: str | None = Field(description="the date of a chronicle entry")
    original: str = Field(description="the verbatim original text of the clause")


class HealthOut(BaseModel):
    status: Literal["ok", "loading", "unhealthy"]
    detail: str | None = Field(None, description="what the server is doing, or why the index cannot be loaded")
    documents: int | None = None
    clauses: int | None = None


class ErrorOut(BaseModel):
    """Every error body but 422's: one message."""

    detail: str = Field(description="中文 / English message saying what to do")


class FieldErrorOut(BaseModel):
    loc: list[str | int] = Field(description="where in the request, e.g. [\"body\", \"question\"]")
    msg: str
    type: str


class ValidationErrorOut(ErrorOut):
    """422: the message, and for a malformed request the fields at fault (empty for a question refused once read)."""

    errors: list[FieldErrorOut] = Field(default_factory=list)


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
BATCH_RESPONSE = {
    "description": "the questionnaire with the answer columns added, in the upload's format",
    "content": {XLSX_MEDIA_TYPE: {"schema": BINARY_SCHEMA}, "text/csv": {"schema": BINARY_SCHEMA}},
}
TARGETS_XLSX = {"content": {XLSX_MEDIA_TYPE: {"schema": BINARY_SCHEMA}}}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` for these error codes, with their real body model, for generated clients."""
    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ValidationErrorOut if code == 422 else ErrorOut, "description": ERROR_MEANINGS[code]}
        for code in codes
    }
    if 429 in responses:
        responses[429]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    return responses


# ---------------------------------------------------------------- the app


def create_app(assistant: KnowledgeAnswerer, settings: Settings, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The API app; serve.py mounts the web page on the same app."""
    from fastapi_offline import FastAPIOffline

    # /docs and /redoc with their scripts served from the package: an intranet has no CDN.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        title="planqa API",  # ASCII: generated clients name their package after it
        description="政策规划问答助手: exact, cited answers over the loaded policy plans (/api/docs lists them). "
        "Auth: see PLANQA_API_KEYS.",
        version="0.1.0",
    )
    service = AskService(assistant, AuditStore.from_settings(settings))
    app.state.service = service
    app.state.settings = settings
    app.state.api_keys = [k.encode("utf-8") for k in settings.api_keys]
    app.state.audit_secret = audit_secret(settings)
    app.state.rate_limiter = RateLimiter(settings.rate_limit)
    _add_middleware(app, max_upload_bytes, settings.cors_origins)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors)
    _add_error_handlers(app)
    _add_routes(app, service, max_upload_bytes, settings.max_question_chars)
    generate = app.openapi
    app.openapi = lambda: app.openapi_schema or for_clients(generate())  # type: ignore[method-assign]
    return app


def for_clients(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's OpenAPI document made exact for generated clients (openapi-python-client).

    FastAPI adds a 422 with its own body to every route with parameters, even a path string that
    cannot fail; every route that can answer 422 declares it with ValidationErrorOut, so those go.
    Uploads become `format: binary`, which generators read as a file (`contentMediaType` they do not).
    """
    for path in schema["paths"].values():
        for operation in path.values():
            if "HTTPValidationError" in json.dumps(operation["responses"].get("422", {})):
                del operation["responses"]["422"]
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for model in components.values():
        for field in model.get("properties", {}).values():
            if field.get("contentMediaType") == "application/octet-stream":
                field["format"] = "binary"
    return schema


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


def validation_body(errors: Sequence[Any]) -> dict:
    """FastAPI's field errors as ValidationErrorOut: where, what, and one line a person can read."""
    fields = [
        {"loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in errors
    ]
    where = "; ".join(f"{'.'.join(map(str, f['loc'][1:] or f['loc']))}: {f['msg']}" for f in fields)
    return {"detail": f"请求无效 / invalid request: {where}", "errors": fields}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PlanqaError)
    async def planqa_error(request: Request, exc: PlanqaError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=error_status(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 in the one declared shape (ValidationErrorOut): a message like every error, and the fields."""
        return JSONResponse(validation_body(exc.errors()), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI's own 400 for a body it cannot decode (not UTF-8, broken multipart) is a malformed
        request like any other: 422 with the declared body, not an undocumented 400 in English only."""
        if exc.status_code == 400 and exc.__cause__ is not None:
            unreadable = [{"loc": ["body"], "msg": f"unreadable body ({type(exc.__cause__).__name__})", "type": "body_unreadable"}]
            body = validation_body(unreadable)
            body["detail"] = "请求体无法解析 / the request body cannot be read: send UTF-8 JSON (or a multipart upload)"
            return JSONResponse(body, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        """A bug must still answer in JSON, and must not leak a traceback to the caller."""
        log.error("internal error on %s", request.url.path, exc_info=exc)
        return JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)


def _add_routes(app: FastAPI, service: AskService, max_upload_bytes: int, max_question_chars: int) -> None:
    @app.get("/api/health", tags=["meta"], operation_id="health", response_model=HealthOut,
             response_model_exclude_none=True,
             responses={503: {"model": HealthOut, "description": ERROR_MEANINGS[503]}, **error_responses(500)})
    def health() -> Any:
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

    def ask(body: AskRequest, caller: Caller) -> dict:
        """Answer one question with verbatim citations; pass `history` for follow-ups."""
        history = [(q, a) for q, a in body.history or []] or None
        answer, answer_id = service.ask_recorded(body.question, history, key_id=caller, channel="api")
        return {**answer.to_dict(), "answer_id": answer_id}

    # The body model carries this server's length limit, so it is made here, not at import time.
    ask.__annotations__["body"] = ask_request_model(max_question_chars)
    app.post("/api/ask", response_model=AnswerOut, tags=["ask"], operation_id="ask",
             responses=error_responses(401, 413, 422, 429, 500, 503))(ask)

    @app.post("/api/batch", tags=["ask"], response_class=FileResponse, operation_id="batch",
              responses={200: BATCH_RESPONSE, **error_responses(400, 401, 413, 422, 429, 500, 503)})
    def batch(
        caller: Caller,
        file: Annotated[UploadFile, File(description=".xlsx or .csv with a question column")],
        column: Annotated[str, Form()] = "问题",
        sheet: Annotated[str | None, Form()] = None,
    ) -> FileResponse:
        """Upload a questionnaire, get it back with 答案, 出处章节, 原文摘录, 置信度, 方案是否明确 added."""
        return _run_batch(service, caller, file, column, sheet, max_upload_bytes)

    _add_data_routes(app, service)
    _add_feedback_route(app, service)


def _add_feedback_route(app: FastAPI, service: AskService) -> None:
    @app.post("/api/feedback", response_model=FeedbackOut, status_code=202, tags=["ask"], operation_id="feedback",
              responses=error_responses(401, 413, 422, 429, 500))
    def give_feedback(body: FeedbackIn, caller: Caller) -> dict:
        """👍/👎 on an answer (its `answer_id` from /api/ask), with an optional comment. One opinion per key
        and answer: a later one replaces it. Stored in the background like the questions, so it is
        accepted (202) even while the audit database is down."""
        service.audit.feedback(body.answer_id, body.rating, body.comment, caller=caller, channel="api")
        return {"status": "accepted", "answer_id": body.answer_id}


def _add_data_routes(app: FastAPI, service: AskService) -> None:
    """The ledger, the loaded plans and single clauses: reads, behind the same key as the questions."""
    @app.get("/api/targets", tags=["data"], operation_id="targets", response_model=TargetsOut,
             responses={200: TARGETS_XLSX, **error_responses(401, 422, 429, 500, 503)})
    def targets(
        caller: Caller,
        filters: LedgerFilters,
        format: Annotated[Literal["json", "xlsx"], Query(
            deprecated=True, description="xlsx: the same as /api/targets.xlsx (kept for scripts that use it)")] = "json",
    ) -> Any:
        """The targets ledger (目标任务台账), filtered, with English field names."""
        rows = ledger_rows(service.knowledge, **filters)
        if format == "xlsx":
            return _ledger_xlsx(rows)
        return {"count": len(rows), "targets": [row.to_dict() for row in rows]}

    @app.get("/api/targets.xlsx", tags=["data"], operation_id="targets_xlsx", response_class=Response,
             responses={200: {"description": "the filtered ledger as a workbook", **TARGETS_XLSX},
                        **error_responses(401, 422, 429, 500, 503)})
    def targets_xlsx(caller: Caller, filters: LedgerFilters) -> Response:
        """The same ledger as a workbook with Chinese headers, ready to print (one operation, one media type)."""
        return _ledger_xlsx(ledger_rows(service.knowledge, **filters))

    from assistant.office.report import DOCX_MEDIA_TYPE, ledger_report

    @app.get("/api/report", tags=["data"], operation_id="report", response_class=Response,
             responses={200: {"description": "the ledger report (DOCX)", "content": {DOCX_MEDIA_TYPE: {"schema": BINARY_SCHEMA}}},
                        **error_responses(401, 422, 429, 500, 503)})
    def report(caller: Caller, filters: LedgerFilters) -> Response:
        """The targets ledger as a DOCX a leader reads: per plan and action, each target with its units, deadline and citation."""
        rows = ledger_rows(service.knowledge, **filters)
        headers = {"Content-Disposition": "attachment; filename=\"targets-report.docx\"; filename*=UTF-8''%E7%9B%AE%E6%A0%87%E5%8F%B0%E8%B4%A6%E6%8A%A5%E5%91%8A.docx"}
        return Response(ledger_report(service.knowledge, rows), media_type=DOCX_MEDIA_TYPE, headers=headers)

    @app.get("/api/docs", tags=["data"], operation_id="docs", response_model=DocsOut,
             responses=error_responses(401, 429, 500, 503))
    def docs(caller: Caller) -> Any:
        """The plans loaded: title, level, region, 文号, date, period, and whether the title is only the file name."""
        from assistant.ingest.identity import document_rows

        rows = document_rows(service.knowledge)
        return {"count": len(rows), "docs": rows}

    @app.get("/api/clauses/{clause_id}", tags=["data"], operation_id="clause", response_model=ClauseOut,
             responses=error_responses(401, 404, 429, 500, 503))
    def clause(clause_id: str, caller: Caller) -> Any:
        """One clause with its section path, span, and the verbatim original text (`original`)."""
        knowledge = service.knowledge
        try:
            found = knowledge.clause(clause_id)
        except KeyError as exc:
            raise HTTPException(404, f"找不到条款 / no clause {clause_id!r}") from exc
        return {**found.to_dict(), "original": knowledge.quote(found.doc, found.start, found.end)}


def ledger_filters(
    unit: Annotated[str | None, Query(description="responsible unit, any spelling or short form, e.g. 发改局")] = None,
    year: Annotated[int | None, Query(description="due year, e.g. 2025")] = None,
    action: Annotated[str | None, Query(description="action heading, or part of it, e.g. 节能降碳")] = None,
    plan: Annotated[str | None, Query(description="plan: part of its title, its region, 文号 or file name, e.g. 苏州")] = None,
) -> dict[str, Any]:
    """The ledger filters shared by /api/targets and /api/targets.xlsx (knowledge.ledger_rows's keywords)."""
    return {"unit": unit, "year": year, "action": action, "plan": plan}


LedgerFilters = Annotated[dict[str, Any], Depends(ledger_filters)]


def _ledger_xlsx(rows: list[LedgerRow]) -> Response:
    from assistant.office.ledger import render_ledger

    headers = {"Content-Disposition": "attachment; filename=\"targets.xlsx\"; filename*=UTF-8''%E7%9B%AE%E6%A0%87%E5%8F%B0%E8%B4%A6.xlsx"}
    return Response(render_ledger(rows, "xlsx"), media_type=XLSX_MEDIA_TYPE, headers=headers)


def download_stem(filename: str | None) -> str:
    """The upload's bare name for the answered copy: clients may send "../../x.xlsx" or "C:\\x.xlsx"."""
    base = re.split(r"[\\/]", filename or "")[-1]
    return Path(base).stem.strip(". ") or "questions"


def _run_batch(service: AskService, caller: str, upload: UploadFile, column: str, sheet: str | None, limit: int) -> FileResponse:
    """Validate the upload, answer it in a temporary folder, and stream the result back."""
    from assistant.office.questionnaire import answer_questionnaire

    service.wait_until_ready()
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
