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
import re
import shutil
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StringConstraints
from starlette.background import BackgroundTask
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings
from .errors import INTERNAL_ERROR, IndexError_, InputFileError, PlanqaError, QuestionError
from .knowledge import KnowledgeAnswerer
from .models import Answer, Answerer, History, Starting

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a questionnaire of thousands of questions is well below this
MAX_JSON_BYTES = 256 * 1024  # /api/ask bodies: a question and a short history
MAX_BATCH_ROWS = 2000  # above this, one HTTP request would hold a worker for too long: use `planqa batch`
MAX_HISTORY_TURNS = 20
XLSX_MAGIC = b"PK\x03\x04"
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
    def knowledge(self):
        return self.assistant.knowledge

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


def key_id(key: str) -> str:
    """What the audit log records instead of the key: enough to tell callers apart, useless to an attacker."""
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


bearer_scheme = HTTPBearer(auto_error=False, description="Authorization: Bearer KEY (a key from PLANQA_API_KEYS)")
header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: KEY")


def require_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header: Annotated[str | None, Depends(header_scheme)],
) -> str:
    """The dependency guarding /api: returns the caller's key id ("open" when no keys are configured)."""
    keys: list[bytes] = request.app.state.api_keys
    if not keys:
        return "open"
    supplied = (bearer.credentials if bearer else None) or header or ""
    # compare against every key, constant-time, so timing says nothing about which key was close
    matches = [hmac.compare_digest(supplied.encode("utf-8"), k) for k in keys]
    if supplied and any(matches):
        return key_id(supplied)
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


class AnswerOut(BaseModel):
    question: str
    answer: str
    intent: str
    confidence: float
    abstained: bool = Field(description="true when the plan does not state the answer (方案中未明确)")
    citations: list[CitationOut]


# ---------------------------------------------------------------- the app


def create_app(assistant: KnowledgeAnswerer, settings: Settings, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The API app; serve.py mounts the web page on the same app."""
    app = FastAPI(
        title="planqa 政策规划问答助手 API",
        description="Exact, cited answers over the 鹤城区碳达峰实施方案. Auth: see PLANQA_API_KEYS.",
        version="0.1.0",
    )
    service = AskService(assistant, AuditLog(settings.audit_path.expanduser()))
    app.state.service = service
    app.state.settings = settings
    app.state.api_keys = [k.encode("utf-8") for k in settings.api_keys]
    _add_middleware(app, max_upload_bytes, settings.cors_origins)
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
    @app.get("/api/health", tags=["meta"])
    def health() -> dict:
        """Open (no key): for load balancers. `status` is "loading" while the index is being built."""
        if not service.ready:
            return {"status": "loading", "detail": service.status}
        knowledge = service.knowledge
        return {"status": "ok", "documents": len(knowledge.documents), "clauses": len(knowledge.clauses)}

    @app.post("/api/ask", response_model=AnswerOut, tags=["ask"])
    def ask(body: AskRequest, caller: Caller) -> dict:
        """Answer one question with verbatim citations; pass `history` for follow-ups."""
        history = [(q, a) for q, a in body.history or []] or None
        return service.ask(body.question, history, key_id=caller, channel="api").to_dict()

    @app.post("/api/batch", tags=["ask"], response_class=FileResponse)
    def batch(
        caller: Caller,
        file: Annotated[UploadFile, File(description=".xlsx or .csv with a question column")],
        column: Annotated[str, Form()] = "问题",
        sheet: Annotated[str | None, Form()] = None,
    ) -> FileResponse:
        """Upload a questionnaire, get it back with 答案, 出处章节, 原文摘录, 置信度, 方案是否明确 added."""
        return _run_batch(service, caller, file, column, sheet, max_upload_bytes)

    @app.get("/api/targets", tags=["data"])
    def targets(
        caller: Caller,
        unit: Annotated[str | None, Query(description="responsible unit, any spelling or short form, e.g. 发改局")] = None,
        year: Annotated[int | None, Query(description="due year, e.g. 2025")] = None,
        action: Annotated[str | None, Query(description="action heading, or part of it, e.g. 节能降碳")] = None,
        format: Literal["json", "xlsx"] = "json",
    ) -> Any:
        """The targets ledger (目标任务台账), filtered; json has English field names, xlsx Chinese headers."""
        from .knowledge import ledger_rows

        rows = ledger_rows(service.knowledge, action=action, unit=unit, year=year)
        if format == "xlsx":
            from .tables import render_ledger

            headers = {"Content-Disposition": "attachment; filename=\"targets.xlsx\"; filename*=UTF-8''%E7%9B%AE%E6%A0%87%E5%8F%B0%E8%B4%A6.xlsx"}
            return Response(render_ledger(rows, "xlsx"), media_type=XLSX_MEDIA_TYPE, headers=headers)
        return {"count": len(rows), "targets": [row.to_dict() for row in rows]}

    @app.get("/api/clauses/{clause_id}", tags=["data"])
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
    from .batch import answer_questionnaire, read_table

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
        rows = len(read_table(source, column, sheet).data_rows)
        if rows > MAX_BATCH_ROWS:
            raise InputFileError(
                source, f"问题过多 / too many questions ({rows} > {MAX_BATCH_ROWS}): split the file or use `planqa batch`"
            )
        target = workdir / f"answered{suffix}"
        report = answer_questionnaire(service.asker(caller, "batch"), source, target, column=column, sheet=sheet, progress=False)
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
