"""The portal API: the assistant over HTTP for the government portal and other office systems.

`create_app(assistant, settings)` (assistant: the served one, assistant/web/service.py) returns a FastAPI app with /api/ask, /api/batch, /api/targets,
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

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.audit import AuditStore
from assistant.config import Settings
from assistant.errors import INTERNAL_ERROR, IndexError_, PlanqaError, QuestionError
from assistant.facts.knowledge import ledger_rows
from assistant.models import LedgerRow
from assistant.office.questionnaire import MAX_ROWS
from assistant.web.schemas import (
    BATCH_RESPONSE,
    BINARY_SCHEMA,
    ERROR_MEANINGS,
    TARGETS_XLSX,
    XLSX_MEDIA_TYPE,
    AnswerOut,
    AskRequest,
    ClauseOut,
    DocsOut,
    FeedbackIn,
    FeedbackOut,
    HealthOut,
    TargetsOut,
    ask_request_model,
    error_responses,
)
from assistant.web.security import (
    BodyLimitMiddleware,
    Caller,
    RateLimiter,
    SecurityHeadersMiddleware,
    audit_secret,
    size_text,
)
from assistant.web.service import AskService, ServedAssistant

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a questionnaire of thousands of questions is well below this
MAX_JSON_BYTES = 256 * 1024  # /api/ask bodies: a question and a short history
MAX_BATCH_ROWS = MAX_ROWS  # above this, one HTTP request would hold a worker for too long: use `planqa batch`
XLSX_MAGIC = b"PK\x03\x04"
DOCS_ASSETS = "/docs-assets"




def create_app(assistant: ServedAssistant, settings: Settings, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The API app; assistant/web/app.py mounts the web page on the same app."""
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
        served = service.assistant
        if not served.ready:
            if served.error:
                return JSONResponse({"status": "unhealthy", "detail": served.status}, status_code=503)
            return {"status": "loading", "detail": served.status}
        problem = served.problem()
        if problem:
            return JSONResponse({"status": "unhealthy", "detail": problem}, status_code=503)
        knowledge = served.knowledge
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
        rows = ledger_rows(service.assistant.knowledge, **filters)
        if format == "xlsx":
            return _ledger_xlsx(rows)
        return {"count": len(rows), "targets": [row.to_dict() for row in rows]}

    @app.get("/api/targets.xlsx", tags=["data"], operation_id="targets_xlsx", response_class=Response,
             responses={200: {"description": "the filtered ledger as a workbook", **TARGETS_XLSX},
                        **error_responses(401, 422, 429, 500, 503)})
    def targets_xlsx(caller: Caller, filters: LedgerFilters) -> Response:
        """The same ledger as a workbook with Chinese headers, ready to print (one operation, one media type)."""
        return _ledger_xlsx(ledger_rows(service.assistant.knowledge, **filters))

    from assistant.office.report import DOCX_MEDIA_TYPE, ledger_report

    @app.get("/api/report", tags=["data"], operation_id="report", response_class=Response,
             responses={200: {"description": "the ledger report (DOCX)", "content": {DOCX_MEDIA_TYPE: {"schema": BINARY_SCHEMA}}},
                        **error_responses(401, 422, 429, 500, 503)})
    def report(caller: Caller, filters: LedgerFilters) -> Response:
        """The targets ledger as a DOCX a leader reads: per plan and action, each target with its units, deadline and citation."""
        rows = ledger_rows(service.assistant.knowledge, **filters)
        headers = {"Content-Disposition": "attachment; filename=\"targets-report.docx\"; filename*=UTF-8''%E7%9B%AE%E6%A0%87%E5%8F%B0%E8%B4%A6%E6%8A%A5%E5%91%8A.docx"}
        return Response(ledger_report(service.assistant.knowledge, rows), media_type=DOCX_MEDIA_TYPE, headers=headers)

    @app.get("/api/docs", tags=["data"], operation_id="docs", response_model=DocsOut,
             responses=error_responses(401, 429, 500, 503))
    def docs(caller: Caller) -> Any:
        """The plans loaded: title, level, region, 文号, date, period, and whether the title is only the file name."""
        from assistant.ingest.identity import document_rows

        rows = document_rows(service.assistant.knowledge)
        return {"count": len(rows), "docs": rows}

    @app.get("/api/clauses/{clause_id}", tags=["data"], operation_id="clause", response_model=ClauseOut,
             responses=error_responses(401, 404, 429, 500, 503))
    def clause(clause_id: str, caller: Caller) -> Any:
        """One clause with its section path, span, and the verbatim original text (`original`)."""
        knowledge = service.assistant.knowledge
        found = knowledge.find_clause(clause_id)
        if found is None:
            raise HTTPException(404, f"找不到条款 / no clause {clause_id!r}")
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

    service.assistant.wait_until_ready()
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise HTTPException(400, f"不支持的文件类型 / unsupported file type {suffix or '(none)'!r}: upload .xlsx or .csv")
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"文件过大 / file too large: the limit is {size_text(limit)}")
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
