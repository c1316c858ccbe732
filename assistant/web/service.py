"""The one answerer surface behind the API, the page, batch uploads and the command line.

`ServedAssistant` holds the Assistant, built in a background thread (the server: the page is up at
once and says why answers wait) or given ready-made (`ServedAssistant.of`, the command line and
tests). Every entry point asks through it, whichever way it was made: ready/status/error,
ask(question, history), knowledge, prefetch, problem. `AskService` adds the audit log: each caller's
questions are recorded (`asker`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from assistant.audit import AuditedAnswerer, AuditStore
from assistant.config import Settings
from assistant.errors import IndexError_
from assistant.facts.knowledge import Knowledge, KnowledgeAnswerer
from assistant.models import Answer, History

log = logging.getLogger(__name__)

BUILDING = "正在建立索引 / building the index"
READY = "ready"


class ServedAssistant:
    """The Assistant behind every entry point, built in a thread (`start`) or given ready (`of`).

    A question asked while it is built waits up to `wait_seconds`, then is told to retry (IndexError_, 503).
    """

    def __init__(
        self, settings: Settings | None, factory: Callable[[Settings], KnowledgeAnswerer] | None = None, wait_seconds: float = 600
    ) -> None:
        self.settings = settings
        self.wait_seconds = wait_seconds  # how long a question waits for the index before it is told to retry
        self._factory = factory or build_assistant
        self._done = threading.Event()
        self._assistant: KnowledgeAnswerer | None = None
        self.error: str | None = None
        self.status = BUILDING

    @classmethod
    def of(cls, assistant: KnowledgeAnswerer) -> ServedAssistant:
        """An assistant that is built already: ready at once, nothing to wait for."""
        served = cls(None)
        served._assistant, served.status = assistant, READY
        served._done.set()
        return served

    def start(self) -> ServedAssistant:
        threading.Thread(target=self._build, name="planqa-index", daemon=True).start()
        return self

    def _build(self) -> None:
        started = time.monotonic()
        print("正在加载或建立索引 / loading or building the index …", file=sys.stderr, flush=True)
        try:
            self._assistant = self._factory(self.settings or Settings())
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

    @property
    def waiting(self) -> bool:
        """Still being built (not ready, and not failed): the page keeps polling."""
        return not self.ready and self.error is None

    def get(self) -> KnowledgeAnswerer:
        if not self._done.wait(self.wait_seconds):
            raise IndexError_("索引仍在建立 / the index is still being built; try again shortly")
        if self._assistant is None:
            raise IndexError_(f"{self.status} — 请管理员查看日志 / the administrator should check the server log")
        return self._assistant

    def ask(self, question: str, history: History | None = None) -> Answer:
        return self.get().ask(question, history=history)

    @property
    def knowledge(self) -> Knowledge:
        return self.get().knowledge

    def prefetch(self, questions: list[str]) -> None:
        """Embed a questionnaire's questions together before they are asked one by one."""
        self.get().prefetch(questions)

    def problem(self) -> str | None:
        """Why a ready assistant cannot answer now (its vector store's server is down), or None."""
        return self.get().problem()

    def wait_until_ready(self) -> None:
        """Wait for the index, else raise IndexError_ (503): a batch must not answer every row with that error."""
        self.get()


def build_assistant(settings: Settings) -> KnowledgeAnswerer:
    from assistant.answer import Assistant

    return Assistant.from_settings(settings, progress=True)


class AskService:
    """The served assistant and the audit log: what the API, the page and batch uploads hold.

    No lock here: ask() is thread-safe (tests/test_faults.py asks from 16 threads at once); the
    retriever embeds one query at a time itself, so the rest of a request runs concurrently.
    """

    def __init__(self, assistant: ServedAssistant, audit: AuditStore) -> None:
        self.assistant = assistant
        self.audit = audit

    def ask_recorded(
        self, question: str, history: History | None = None, *, key_id: str = "web", channel: str = "web"
    ) -> tuple[Answer, str]:
        """The answer and its audit id, which feedback (page or /api/feedback) refers to."""
        return self.asker(key_id, channel).ask_recorded(question, history)

    def asker(self, key_id: str, channel: str) -> AuditedAssistant:
        """The served assistant as one caller on one channel (e.g. for answer_questionnaire): asks are audited."""
        return AuditedAssistant(self.assistant, AuditedAnswerer(self.assistant, self.audit, key_id, channel))


class AuditedAssistant:
    """A KnowledgeAnswerer whose answers are recorded in the audit log as one caller."""

    def __init__(self, assistant: ServedAssistant, recorder: AuditedAnswerer) -> None:
        self.assistant, self.recorder = assistant, recorder

    def ask(self, question: str, history: History | None = None) -> Answer:
        return self.recorder.ask(question, history)

    def ask_recorded(self, question: str, history: History | None = None) -> tuple[Answer, str]:
        return self.recorder.ask_recorded(question, history)

    @property
    def knowledge(self) -> Knowledge:
        return self.assistant.knowledge

    def prefetch(self, questions: list[str]) -> None:
        self.assistant.prefetch(questions)

    def problem(self) -> str | None:
        return self.assistant.problem()
