"""The one assistant behind the API, the page, batch uploads and the command line."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from assistant.audit import AuditedAnswerer, AuditStore
from assistant.config import Settings
from assistant.errors import IndexError_
from assistant.facts.knowledge import KnowledgeAnswerer
from assistant.models import Answer, History, Starting

log = logging.getLogger(__name__)


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


class BackgroundAssistant:
    """The Assistant, built in a thread: the page starts at once and can say why answers wait.

    Has the Assistant's surface (`ask`, `knowledge`) so the API and the page take either.
    """

    def __init__(
        self, settings: Settings, factory: Callable[[Settings], KnowledgeAnswerer] | None = None, wait_seconds: float = 600
    ) -> None:
        self.settings = settings
        self.wait_seconds = wait_seconds  # how long a question waits for the index before it is told to retry
        self._factory = factory or build_assistant
        self._done = threading.Event()
        self._assistant: KnowledgeAnswerer | None = None
        self.error: str | None = None
        self.status = "正在建立索引 / building the index"

    def start(self) -> BackgroundAssistant:
        threading.Thread(target=self._build, name="planqa-index", daemon=True).start()
        return self

    def _build(self) -> None:
        started = time.monotonic()
        print("正在加载或建立索引 / loading or building the index …", file=sys.stderr, flush=True)
        try:
            self._assistant = self._factory(self.settings)
            self.status = f"就绪 / ready ({time.monotonic() - started:.1f}s)"
        except Exception as exc:  # shown on the page and in /api/health instead of a dead server
            log.exception("building the assistant failed")
            self.error = f"{type(exc).__name__}: {exc}"
            self.status = f"启动失败 / failed: {self.error}"
        print(self.status, file=sys.stderr, flush=True)
        self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self._assistant is not None

    def get(self) -> KnowledgeAnswerer:
        if not self._done.wait(self.wait_seconds):
            raise IndexError_("索引仍在建立 / the index is still being built; try again shortly")
        if self._assistant is None:
            raise IndexError_(f"{self.status} — 请管理员查看日志 / the administrator should check the server log")
        return self._assistant

    def ask(self, question: str, history: History | None = None) -> Answer:
        return self.get().ask(question, history=history)

    @property
    def knowledge(self):
        return self.get().knowledge


def build_assistant(settings: Settings) -> KnowledgeAnswerer:
    from assistant.answer import Assistant

    return Assistant.from_settings(settings, progress=True)
