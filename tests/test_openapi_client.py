"""A client generated from the API's own OpenAPI document (openapi-python-client) calls every operation,
with every response the document declares, against the app served by uvicorn.

The calls are enumerated from the document: an operation or a declared status without a call here
fails the test, so the document cannot promise what nobody has seen the server do. The bulletin's
knowledge with a bigram retriever stands in for the index (no model), so this stays quick.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from assistant.answer import Assistant
from assistant.errors import IndexError_
from assistant.web.api import create_app
from assistant.web.service import ServedAssistant
from tests.conftest import ROOT, OverlapRetriever, served, xlsx_bytes

KEY = "client-test-key"
UPLOAD_LIMIT = 64 * 1024
PACKAGE = "planqa_api_client"  # from the document's ASCII title, "planqa API"
QUESTION = "2030年非化石能源消费比重的目标是多少？"


class Broken:
    """An assistant with a bug: every request that reaches it must come back 500 "internal error"."""

    def ask(self, question, history=None):
        raise RuntimeError("a bug")

    @property
    def knowledge(self):
        raise RuntimeError("a bug")

    def prefetch(self, questions):
        raise RuntimeError("a bug")

    def problem(self):
        raise RuntimeError("a bug")


def loading(settings, error: str | None) -> ServedAssistant:
    """The served assistant while its index is being built (for ever), or after building it failed."""

    def build(_settings):
        if error is None:
            threading.Event().wait()
        raise IndexError_(error)

    served = ServedAssistant(settings, factory=build, wait_seconds=0.01).start()
    while error is not None and served.error is None:
        time.sleep(0.01)
    return served


@pytest.fixture(scope="module")
def spec_and_servers(knowledge, settings, tmp_path_factory):
    """The document, and one server per state: working, rate-limited, loading, failed, broken."""
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    base = settings.with_overrides(audit_log=audit, api_keys=(KEY,))
    working = Assistant(knowledge, OverlapRetriever(knowledge), settings)
    apps = {
        "ok": create_app(ServedAssistant.of(working), base, max_upload_bytes=UPLOAD_LIMIT),
        "limited": create_app(ServedAssistant.of(working), base.with_overrides(rate_limit=1)),
        "loading": create_app(loading(base, None), base),
        "failed": create_app(loading(base, "index corrupt: run `planqa build`"), base),
        "broken": create_app(ServedAssistant.of(Broken()), base),
    }
    urls, stack = {}, []
    for name, app in apps.items():
        context = served(app)
        urls[name] = context.__enter__()
        stack.append(context)
    yield apps["ok"].openapi(), urls
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client_package(spec_and_servers, tmp_path_factory):
    """The generated client, imported from a temporary folder (no install)."""
    spec, _ = spec_and_servers
    folder = tmp_path_factory.mktemp("client")
    (folder / "openapi.json").write_text(json.dumps(spec, ensure_ascii=False), "utf-8")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(folder / "openapi.json"), "--meta", "none",
         "--output-path", str(folder / PACKAGE), "--config", str(ROOT / "openapi-client.yaml"), "--fail-on-warning"],
        capture_output=True, text=True, timeout=120, env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def operation(package, name: str):
    """The generated module of an operation (api/<tag>/<operation id>.py)."""
    api = Path(package.__file__).parent / "api"
    (module,) = api.glob(f"*/{name}.py")
    return importlib.import_module(f"{package.__name__}.api.{module.parent.name}.{name}")


def declared(spec: dict) -> dict[str, set[int]]:
    return {
        op["operationId"]: {int(code) for code in op["responses"]}
        for path in spec["paths"].values() for op in path.values()
    }


# ---------------------------------------------------------------- the calls, one per operation and status


class Calls:
    """For each operation, a call per status it declares; each returns the client's typed response."""

    def __init__(self, package, urls: dict[str, str]) -> None:
        self.package = package
        self.models = importlib.import_module(f"{package.__name__}.models")
        self.types = importlib.import_module(f"{package.__name__}.types")
        self.urls = urls

    def client(self, server: str = "ok", key: str | None = KEY):
        if key is None:
            return self.package.Client(base_url=self.urls[server], timeout=60)
        return self.package.AuthenticatedClient(base_url=self.urls[server], token=key, timeout=60)

    def run(self, name: str, server: str = "ok", key: str | None = KEY, **kwargs: Any):
        return operation(self.package, name).sync_detailed(client=self.client(server, key), **kwargs)

    def exhausted(self) -> str:
        """The rate-limited server, with this key's one request a minute spent."""
        self.run("docs", "limited")
        return "limited"

    def table(self, promised: dict[str, set[int]]) -> dict[str, dict[int, Callable[[], Any]]]:
        m, run = self.models, self.run
        ask = lambda question, **kw: run("ask", body=m.AskRequest(question=question), **kw)  # noqa: E731
        upload = lambda name, data, **kw: run(  # noqa: E731
            "batch", body=m.BodyBatch(file=self.types.File(payload=io.BytesIO(data), file_name=name)), **kw)
        questionnaire = xlsx_bytes([["问题"], [QUESTION]])
        common = {
            401: lambda op, **kw: run(op, key=None, **kw),
            429: lambda op, **kw: run(op, self.exhausted(), **kw),
            500: lambda op, **kw: run(op, "broken", **kw),
            503: lambda op, **kw: run(op, "loading", **kw),
        }
        per_operation = {
            "ask": ({"body": m.AskRequest(question=QUESTION)}, {
                200: lambda: ask(QUESTION),
                413: lambda: ask("碳" * 300_000),
                422: lambda: ask("   "),
            }),
            "batch": ({"body": m.BodyBatch(file=self.types.File(payload=io.BytesIO(questionnaire), file_name="q.xlsx"))}, {
                200: lambda: upload("q.xlsx", questionnaire),
                400: lambda: upload("q.txt", b"hello"),
                413: lambda: upload("q.csv", b"x" * (UPLOAD_LIMIT * 3)),
                422: lambda: run("batch", body=m.BodyBatch(file=self.types.File(payload=io.BytesIO(b"x")))),
                500: lambda: self.with_bug_in_batch(lambda: upload("q.xlsx", questionnaire)),
            }),
            "targets": ({}, {
                200: lambda: run("targets", year=2030),
                422: lambda: run("targets", year="明年"),
            }),
            "targets_xlsx": ({}, {
                200: lambda: run("targets_xlsx", year=2030),
                422: lambda: run("targets_xlsx", year="明年"),
            }),
            "report": ({}, {
                200: lambda: run("report", year=2030),
                422: lambda: run("report", year="明年"),
            }),
            "feedback": ({"body": m.FeedbackIn(answer_id="0" * 32, rating=m.FeedbackInRating(1))}, {
                202: lambda: run("feedback", body=m.FeedbackIn(answer_id=self.answer_id(), rating=m.FeedbackInRating(-1),
                                                               comment="应为31%以上")),
                413: lambda: run("feedback", body=m.FeedbackIn(answer_id="0" * 32, rating=m.FeedbackInRating(1),
                                                               comment="碳" * 300_000)),
                422: lambda: run("feedback", body=m.FeedbackIn(answer_id="not-an-id", rating=m.FeedbackInRating(1))),
                500: lambda: self.with_bug_in_feedback(lambda: run(
                    "feedback", body=m.FeedbackIn(answer_id="0" * 32, rating=m.FeedbackInRating(1)))),
            }),
            "docs": ({}, {200: lambda: run("docs")}),
            "clause": ({"clause_id": "x"}, {
                200: lambda: run("clause", clause_id=self.first_clause()),
                404: lambda: run("clause", clause_id="no-such-clause"),
            }),
            "health": ({}, {
                200: lambda: run("health", key=None),
                500: lambda: run("health", "broken", key=None),
                503: lambda: run("health", "failed", key=None),
            }),
        }
        table = {}
        for name, (arguments, own) in per_operation.items():
            codes = promised.get(name, set()) & set(common)
            shared = {code: (lambda c=code, n=name, a=arguments: common[c](n, **a)) for code in codes}
            table[name] = {**shared, **own}
        return table

    @staticmethod
    def with_bug_in_batch(call: Callable[[], Any]):
        """A row's bug is an "internal error" cell (the other rows still count); a bug around the rows is a 500."""
        from unittest import mock

        with mock.patch("assistant.office.questionnaire.answer_questionnaire", side_effect=RuntimeError("a bug")):
            return call()

    @staticmethod
    def with_bug_in_feedback(call: Callable[[], Any]):
        from unittest import mock

        with mock.patch("assistant.audit.AuditStore.feedback", side_effect=RuntimeError("a bug")):
            return call()

    def answer_id(self) -> str:
        return self.run("ask", body=self.models.AskRequest(question=QUESTION)).parsed.answer_id

    def first_clause(self) -> str:
        return self.run("targets", year=2030).parsed.targets[0].clause_id


def check(models, types, name: str, status: int, response) -> None:
    """The typed body a client gets for this status: the model the document names, filled."""
    assert response.status_code == status, (name, status, response.content[:300])
    parsed = response.parsed
    if status == 202:
        assert isinstance(parsed, models.FeedbackOut) and len(parsed.answer_id) == 32
    elif status == 200:
        expected = {
            "ask": models.AnswerOut, "batch": types.File, "targets": models.TargetsOut, "targets_xlsx": types.File,
            "docs": models.DocsOut, "clause": models.ClauseOut, "health": models.HealthOut, "report": types.File,
        }[name]
        assert isinstance(parsed, expected), (name, type(parsed))
    elif name == "health" and status == 503:
        assert isinstance(parsed, models.HealthOut) and parsed.status == models.HealthOutStatus.UNHEALTHY
        assert "planqa build" in parsed.detail
    elif status == 422:
        assert isinstance(parsed, models.ValidationErrorOut) and parsed.detail, (name, parsed)
    else:
        assert isinstance(parsed, models.ErrorOut) and parsed.detail, (name, status, parsed)


def test_every_operation_and_declared_status_through_a_generated_client(spec_and_servers, client_package):
    spec, urls = spec_and_servers
    calls = Calls(client_package, urls)
    promised = declared(spec)
    table = calls.table(promised)
    assert set(table) == set(promised), "an operation of the document has no call here (or the reverse)"
    for name, codes in promised.items():
        assert set(table[name]) == codes, (name, "declared", sorted(codes), "called", sorted(table[name]))
        for status, call in sorted(table[name].items()):
            check(calls.models, calls.types, name, status, call())


def test_typed_bodies_carry_the_data(spec_and_servers, client_package, bulletin_text):
    """Not only the right class: the fields a portal reads are there, binary bodies intact."""
    calls = Calls(client_package, spec_and_servers[1])
    answer = calls.run("ask", body=calls.models.AskRequest(question=QUESTION)).parsed
    citation = answer.citations[0]
    assert "31%" in answer.answer and bulletin_text[citation.start : citation.end] == citation.quote
    ledger = calls.run("targets", year=2030).parsed
    assert ledger.count == len(ledger.targets) > 0
    row = ledger.targets[0]
    assert row.year == 2030 and isinstance(row.partner_units, list) and row.quote
    workbook = calls.run("targets_xlsx", year=2030).parsed
    assert load_workbook(io.BytesIO(workbook.payload.read())).active.max_row == ledger.count + 1
    upload = calls.models.BodyBatch(file=calls.types.File(payload=io.BytesIO(xlsx_bytes([["问题"], [QUESTION]])), file_name="q.xlsx"))
    answered = load_workbook(io.BytesIO(calls.run("batch", body=upload).parsed.payload.read())).active
    assert "31%" in str(answered.cell(row=2, column=2).value)
    docs = calls.run("docs").parsed
    assert docs.count == 1 and docs.docs[0].id
    health = calls.run("health", key=None).parsed
    assert health.status == calls.models.HealthOutStatus.OK and health.clauses > 100
    limited = calls.run("docs", calls.exhausted())
    assert int(limited.headers["retry-after"]) >= 1


def test_the_document_is_generator_ready(spec_and_servers):
    spec, _ = spec_and_servers
    assert spec["info"]["title"].isascii()
    question = spec["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["minLength"] == 1 and isinstance(question["maxLength"], int)
    row = spec["components"]["schemas"]["TargetsOut"]["properties"]["targets"]["items"]
    assert row["$ref"].endswith("/LedgerRowOut")
    for name, media in (("/api/batch", "text/csv"), ("/api/targets.xlsx", "spreadsheetml")):
        content = next(iter(spec["paths"][name].values()))["responses"]["200"]["content"]
        assert any(media in key and value["schema"].get("format") == "binary" for key, value in content.items())
    assert "HTTPValidationError" not in json.dumps(spec)
