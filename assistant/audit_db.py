"""The audit database: its two tables, the records written to them, engines for SQLite and PostgreSQL,
and one idempotent write. The store that queues records and writes them in the background is
assistant/audit.py; nothing here keeps state between calls.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from assistant.errors import SettingsError
from assistant.models import Answer

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 2000
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
        question, text = text_without_nul(answer.question), text_without_nul(answer.answer)
        return cls(uuid.uuid4().hex, now(), caller[:64], channel, question, text,
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


def text_without_nul(value: str) -> str:
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
