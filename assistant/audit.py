"""Audit and feedback in a database: every question answered and every 👍/👎, through SQLAlchemy.

SQLite by default (one file in WAL mode, so several workers on one host write to it safely) or
PostgreSQL by URL (`PLANQA_AUDIT_DB`) for several hosts. Answers never wait for the database: each
record goes into a bounded in-memory queue that one background thread writes, retrying while the
database is locked or down; a record that finds the queue full is dropped and the loss is logged.
Inserts are idempotent (the answer id is the key), so a retried batch never writes a row twice.
The tables, records and engines are assistant/audit_db.py; here the store, the audited answerer and
the export.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

from assistant.audit_db import (
    MAX_COMMENT_CHARS,
    FeedbackRecord,
    QuestionRecord,
    create_schema,
    feedback,
    now,
    open_engine,
    questions,
    shown_url,
    text_without_nul,
    write_records,
)
from assistant.config import Settings
from assistant.errors import SettingsError
from assistant.models import Answer, Answerer, History

log = logging.getLogger(__name__)

CHANNELS = ("api", "web", "batch", "cli")
QUEUE_SIZE = 10_000  # about an hour of a busy server's questions while the database is down
BATCH_SIZE = 500
LOSS_LOG_SECONDS = 10.0  # while records are being dropped, say so at most this often (with the running total)
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError)
_STOP = object()  # queued by close(): the writer ends

# ---------------------------------------------------------------- the store


class AuditStore:
    """Records questions and feedback without ever making an answer wait for the database."""

    def __init__(self, url: str, *, queue_size: int = QUEUE_SIZE, busy_ms: int = 5000,
                 retry_seconds: tuple[float, float] = (0.2, 5.0)) -> None:
        self.engine = open_engine(url, busy_ms)
        self.url = shown_url(self.engine)
        self.lost = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._retry_first, self._retry_max = retry_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._schema_ready = False
        self._last_loss_log = float("-inf")
        atexit.register(self.close)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditStore:
        return cls(settings.audit_url)

    # -- recording (never blocks)

    def record(self, caller: str, channel: str, answer: Answer, latency_ms: float = 0.0) -> str:
        """Queue one answered question; returns its answer id (for feedback) at once."""
        record = QuestionRecord.of(answer, caller, channel, latency_ms)
        self._put(record)
        return record.answer_id

    def feedback(self, answer_id: str, rating: int, comment: str | None, *, caller: str, channel: str) -> None:
        """Queue 👍 (+1) or 👎 (-1) on an answer, with an optional comment."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1, not {rating!r}")
        comment = text_without_nul(comment or "").strip()[:MAX_COMMENT_CHARS] or None
        self._put(FeedbackRecord(answer_id, caller[:64], rating, comment, channel, now()))

    def _put(self, record: QuestionRecord | FeedbackRecord) -> None:
        self._start_writer()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            with self._lock:
                self.lost += 1
                lost, due = self.lost, time.monotonic() - self._last_loss_log >= LOSS_LOG_SECONDS
                if due:
                    self._last_loss_log = time.monotonic()
            if due:
                log.error("审计队列已满 / audit queue full (%d waiting for %s): %d audit record(s) lost so far",
                          self._queue.maxsize, self.url, lost)

    # -- the writer thread

    def _start_writer(self) -> None:
        if self._writer is not None:
            return
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="planqa-audit", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = [self._queue.get()]
            while len(batch) < BATCH_SIZE:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [item for item in batch if item is not _STOP]
            if records:
                self._write_until_done(records)
            for _ in batch:
                self._queue.task_done()

    def _write_until_done(self, batch: list) -> None:
        """Retry a database that is down or locked until it comes back (or the process stops)."""
        delay, failing = self._retry_first, False
        while True:
            try:
                self._write(batch)
            except TRANSIENT as exc:
                if not failing:
                    log.warning("审计数据库不可用 / audit database %s unavailable, retrying (answers continue): %s",
                                self.url, str(exc).splitlines()[0])
                failing = True
                if self._stop.wait(delay):
                    self._count_lost(len(batch), "the process is stopping")
                    return
                delay = min(delay * 2, self._retry_max)
                continue
            except Exception:  # a bad record, not an outage: retrying would loop for ever
                if len(batch) > 1:  # write them one by one, so that only the bad one is lost
                    for record in batch:
                        self._write_until_done([record])
                    return
                log.exception("audit record could not be written")
                self._count_lost(1, "write error")
                return
            if failing:
                log.warning("审计数据库已恢复 / audit database %s is back: %d record(s) written", self.url, len(batch))
            return

    def _write(self, batch: list) -> None:
        if not self._schema_ready:
            create_schema(self.engine)
            self._schema_ready = True
        write_records(self.engine, batch)

    def _count_lost(self, count: int, why: str) -> None:
        with self._lock:
            self.lost += count
        log.error("%d audit record(s) lost (%s): %s", count, why, self.url)

    # -- waiting and stopping

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is written; False if that did not happen in time."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting at most `timeout`), then stop the writer; the loss is logged."""
        atexit.unregister(self.close)
        if self._writer is not None and not self.flush(timeout):
            waiting = self._queue.qsize()
            self._count_lost(waiting, f"not written within {timeout:.0f} s of closing")
        self._stop.set()
        if self._writer is not None:
            try:
                self._queue.put_nowait(_STOP)  # wakes the writer so that it ends
            except queue.Full:  # it is retrying a write, and sees the stop flag there
                pass
        self.engine.dispose()


class AuditedAnswerer:
    """An answerer that records each answer as one caller on one channel (API, page, batch, CLI)."""

    def __init__(self, answerer: Answerer, store: AuditStore, caller: str, channel: str) -> None:
        self.answerer, self.store, self.caller, self.channel = answerer, store, caller, channel

    def ask(self, question: str, history: History | None = None) -> Answer:
        return self.ask_recorded(question, history)[0]

    def ask_recorded(self, question: str, history: History | None = None) -> tuple[Answer, str]:
        """The answer and its id; the time taken includes waiting for an index still being built."""
        started = time.perf_counter()
        answer = self.answerer.ask(question, history=history)
        latency_ms = (time.perf_counter() - started) * 1000
        return answer, self.store.record(self.caller, self.channel, answer, latency_ms)


# ---------------------------------------------------------------- reading it back


def parse_day(text: str) -> datetime:
    """A --since/--until value: a date (2026-11-01) or an ISO time; read as UTC unless it names a zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SettingsError(f"日期无效 / not a date: {text!r}; use YYYY-MM-DD, e.g. 2026-11-01") from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    """SQLite gives back naive times (written in UTC); PostgreSQL aware ones in the session's zone."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _between(column: sa.Column, since: datetime | None, until: datetime | None) -> list:
    return [c for c in (column >= since if since else None, column < until if until else None) if c is not None]


def question_rows(engine: sa.Engine, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Every recorded question in the period, oldest first, with the feedback it received."""
    create_schema(engine)
    asked = sa.select(questions).where(*_between(questions.c.asked_at, since, until)).order_by(questions.c.asked_at)
    rated = sa.select(feedback).where(feedback.c.answer_id.in_(
        sa.select(questions.c.answer_id).where(*_between(questions.c.asked_at, since, until))
    ))
    with engine.connect() as connection:
        opinions = _by_answer(connection.execute(rated).mappings())
        return [_export_row(row, opinions.get(row["answer_id"], [])) for row in connection.execute(asked).mappings()]


def _by_answer(rows: Iterable) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for row in rows:
        grouped.setdefault(row["answer_id"], []).append(row)
    return grouped


def _export_row(row, opinions: list) -> dict:
    sources = "\n".join(f"{c.get('section') or c.get('clause_id')}：{c.get('quote', '')}" for c in row["citations"] or [])
    return {
        "时间(UTC)": _utc(row["asked_at"]).isoformat(timespec="seconds"),
        "回答编号": row["answer_id"],
        "调用方": row["caller"],
        "渠道": row["channel"],
        "问题": row["question"],
        "答案": row["answer"],
        "方案是否明确": "否" if row["abstained"] else "是",
        "置信度": row["confidence"],
        "出处": sources,
        "耗时(ms)": row["latency_ms"],
        "👍": sum(1 for o in opinions if o["rating"] > 0),
        "👎": sum(1 for o in opinions if o["rating"] < 0),
        "意见": "\n".join(o["comment"] for o in opinions if o["comment"]),
    }


def eval_candidates(engine: sa.Engine, since: datetime | None = None) -> list[dict]:
    """The 👎 answers with a comment, one per question, in the shape of evals/questions.jsonl.

    The gold is left as TODO (and must_include as ["TODO"], which no answer contains) so that an
    unfilled candidate fails loudly instead of passing if it is merged into an eval set as it is.
    """
    create_schema(engine)
    disliked = (
        sa.select(questions.c.answer_id, questions.c.question, questions.c.answer, feedback.c.comment)
        .join(feedback, feedback.c.answer_id == questions.c.answer_id)
        .where(feedback.c.rating < 0, feedback.c.comment.is_not(None), *_between(feedback.c.given_at, since, None))
        .order_by(questions.c.asked_at)
    )
    candidates: dict[str, dict] = {}
    with engine.connect() as connection:
        for row in connection.execute(disliked).mappings():
            key = " ".join(row["question"].split())
            entry = candidates.setdefault(key, {
                "id": f"feedback-{row['answer_id'][:8]}", "question": key, "category": "TODO", "answer": "TODO",
                "must_include": ["TODO"], "source_quote": "", "assistant_answer": row["answer"],
                "feedback": [], "answer_ids": [],
            })
            entry["feedback"].append(row["comment"])
            if row["answer_id"] not in entry["answer_ids"]:
                entry["answer_ids"].append(row["answer_id"])
    return list(candidates.values())
