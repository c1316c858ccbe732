"""Audit and feedback in a database: every question answered and every 👍/👎, through SQLAlchemy.

SQLite by default (one file in WAL mode, so several workers on one host write to it safely) or
PostgreSQL by URL (`PLANQA_AUDIT_DB`) for several hosts. Answers never wait for the database: each
record goes into a bounded in-memory queue that one background thread writes, retrying while the
database is locked or down; a record that finds the queue full is dropped and the loss is logged.
Inserts are idempotent (the answer id is the key), so a retried batch never writes a row twice.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from assistant.config import Settings
from assistant.errors import SettingsError
from assistant.models import Answer, Answerer, History

log = logging.getLogger(__name__)

CHANNELS = ("api", "web", "batch", "cli")
MAX_COMMENT_CHARS = 2000
QUEUE_SIZE = 10_000  # about an hour of a busy server's questions while the database is down
BATCH_SIZE = 500
LOSS_LOG_SECONDS = 10.0  # while records are being dropped, say so at most this often (with the running total)
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError)
_STOP = object()  # queued by close(): the writer ends
URL_HELP = "use sqlite:////path/audit.db or postgresql://user:password@host:5432/dbname"

metadata = sa.MetaData()
questions = sa.Table(
    "planqa_questions",
    metadata,
    sa.Column("answer_id", sa.String(32), primary_key=True),
    sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("caller", sa.String(64), nullable=False),  # an HMAC key id, "open", "web" or "cli:user": never a key
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("intent", sa.String(64), nullable=False),
    sa.Column("abstained", sa.Boolean, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("citations", sa.JSON, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
)
# One opinion per caller and answer: a later click or a comment replaces the earlier one.
feedback = sa.Table(
    "planqa_feedback",
    metadata,
    sa.Column("answer_id", sa.String(32), primary_key=True),
    sa.Column("caller", sa.String(64), primary_key=True),
    sa.Column("rating", sa.SmallInteger, nullable=False),  # +1 👍, -1 👎
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("given_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


@dataclass(frozen=True)
class QuestionRecord:
    answer_id: str
    asked_at: datetime
    caller: str
    channel: str
    question: str
    answer: str
    intent: str
    abstained: bool
    confidence: float
    citations: tuple[dict, ...]
    latency_ms: float

    @classmethod
    def of(cls, answer: Answer, caller: str, channel: str, latency_ms: float) -> QuestionRecord:
        citations = tuple(
            {"doc": c.doc, "clause_id": c.clause_id, "section": c.section, "quote": c.quote, "start": c.start, "end": c.end}
            for c in answer.citations
        )
        return cls(uuid.uuid4().hex, now(), caller[:64], channel, _text(answer.question), _text(answer.answer),
                   answer.intent[:64], answer.abstained, round(answer.confidence, 3), citations, round(latency_ms, 1))

    def row(self) -> dict:
        return {**self.__dict__, "citations": list(self.citations)}


@dataclass(frozen=True)
class FeedbackRecord:
    answer_id: str
    caller: str
    rating: int
    comment: str | None
    channel: str
    given_at: datetime

    def row(self) -> dict:
        return dict(self.__dict__)


def now() -> datetime:
    return datetime.now(UTC)


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL; a question may (pasted from a binary file)."""
    return value.replace("\x00", "\ufffd")


# ---------------------------------------------------------------- the database


def open_engine(url: str, busy_ms: int = 5000) -> sa.Engine:
    """An engine for a SQLite or PostgreSQL URL; a URL that cannot work is refused here, at start."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise SettingsError(f"审计数据库地址无效 / invalid PLANQA_AUDIT_DB {url!r}: {URL_HELP}") from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(parsed, busy_ms)
        if backend in ("postgresql", "postgres"):
            return _postgres_engine(parsed)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise SettingsError(
            f"审计数据库驱动未安装 / no driver for {parsed.drivername}: pip install 'psycopg[binary]' ({exc})"
        ) from exc
    raise SettingsError(f"不支持的审计数据库 / unsupported audit database {backend!r}: {URL_HELP}")


def _sqlite_engine(url: sa.URL, busy_ms: int) -> sa.Engine:
    if url.database and url.database != ":memory:":
        folder = Path(url.database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"无法创建审计数据库目录 / cannot create the audit database folder {folder}: {exc}; "
                                "set PLANQA_AUDIT_DB (or PLANQA_AUDIT_LOG, beside which it goes) to a writable place") from exc
        if not os.access(folder, os.W_OK):  # e.g. replicas on a read-only index: answers go on, the audit would not
            log.warning("审计数据库目录不可写 / %s is not writable: set PLANQA_AUDIT_DB to a writable place", folder)
    engine = sa.create_engine(url, connect_args={"timeout": busy_ms / 1000})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:
        """WAL: readers never block the writer and one writer at a time across processes; busy_timeout
        makes a second worker wait for the lock instead of failing at once."""
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def _postgres_engine(url: sa.URL) -> sa.Engine:
    if url.drivername in ("postgresql", "postgres"):  # SQLAlchemy's default driver is psycopg2; we ship psycopg 3
        url = url.set(drivername="postgresql+psycopg")
    # pre_ping: connections from before a server restart are replaced instead of failing a write
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def shown_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def create_schema(engine: sa.Engine) -> None:
    """Create the two tables if missing; two workers creating them at once is not an error."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except (sa.exc.ProgrammingError, sa.exc.IntegrityError, sa.exc.OperationalError):
        inspector = sa.inspect(engine)
        if not all(inspector.has_table(table.name) for table in metadata.sorted_tables):
            raise


def _insert(engine: sa.Engine, table: sa.Table):
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def write_records(engine: sa.Engine, records: Sequence[QuestionRecord | FeedbackRecord]) -> None:
    """One transaction; idempotent, so a batch retried after a lost commit acknowledgement is harmless."""
    asked = [r.row() for r in records if isinstance(r, QuestionRecord)]
    rated = [r.row() for r in records if isinstance(r, FeedbackRecord)]
    with engine.begin() as connection:
        if asked:
            connection.execute(_insert(engine, questions).on_conflict_do_nothing(index_elements=["answer_id"]), asked)
        for row in rated:  # one by one: an upsert may not touch the same row twice in one statement
            statement = _insert(engine, feedback).values(**row)
            connection.execute(statement.on_conflict_do_update(
                index_elements=["answer_id", "caller"],
                set_={"rating": statement.excluded.rating, "channel": statement.excluded.channel,
                      "given_at": statement.excluded.given_at,
                      "comment": sa.func.coalesce(statement.excluded.comment, feedback.c.comment)},
            ))


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
        comment = _text(comment or "").strip()[:MAX_COMMENT_CHARS] or None
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
        raise ValueError(f"日期无效 / not a date: {text!r}; use YYYY-MM-DD, e.g. 2026-11-01") from None
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
