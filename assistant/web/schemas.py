"""The API's request and response bodies (pydantic), and the OpenAPI description of its errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from assistant.audit import MAX_COMMENT_CHARS
from assistant.web.ledger_views import ledger_row_model

MAX_HISTORY_TURNS = 20
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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
