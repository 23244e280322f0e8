"""Engines and sessions: SQLite tuned for a server, PostgreSQL for scale-out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Index, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
POOL_SPARE = 10  # connections beyond the dispatch threads: scheduler jobs, web threads


# Seconds to reach PostgreSQL before a connection attempt fails (libpq's connect_timeout).
CONNECT_TIMEOUT_SECONDS = 5


class Database:
    """Own the engine; hand out read sessions and write transactions."""

    def __init__(self, url: str, *, echo: bool = False, threads: int = 1) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        # hide_parameters: an error's text never carries the statement's values (a customer's
        # name, number, address), whoever logs it.
        kwargs: dict[str, Any] = {
            "echo": echo,
            "pool_pre_ping": not self.is_sqlite,
            "hide_parameters": True,
        }
        if not (self.is_sqlite and make_url(url).database in (None, "", ":memory:")):
            # One connection per dispatch thread, plus the other jobs and the web threads,
            # so no sending thread waits for a connection (opened only when needed).
            kwargs["pool_size"] = threads + POOL_SPARE
            kwargs["max_overflow"] = POOL_SPARE
        if self.is_sqlite:
            # Worker threads share the pool; SQLite's own locking serialises writers.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif make_url(url).get_backend_name() == "postgresql":
            # A server that takes the connection but never answers (a failover, a full
            # backlog) would hold a web thread or /healthz for ever: give up, and say so.
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        self.engine: Engine = create_engine(url, **kwargs)
        # SQLite has one writer at a time: queue this process's writers on a lock instead of
        # SQLite's busy handler, which sleeps up to 100 ms between retries.
        self._write_lock = threading.RLock() if self.is_sqlite else None
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        # Writes take SQLite's write lock up front (BEGIN IMMEDIATE), so two writers never
        # deadlock upgrading a read lock; on PostgreSQL the option is simply ignored.
        self.write_engine: Engine = self.engine.execution_options(reviewops_immediate=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session for reading; nothing it does is committed."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Yield a session in one write transaction, committed on success, rolled back on error."""
        with (
            self._write_lock or nullcontext(),
            Session(self.write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def before_fork(self) -> None:
        """Ready a process that will fork: connections closed, the ORM's mappers configured.

        No connection of this process may reach a child: each opens its own. Mappers are
        configured by the first query otherwise, which writes to every mapped class: done
        here, the children share those pages instead of each copying them (idle memory).
        """
        configure_mappers()
        self.engine.dispose()


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("reviewops_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> list[str]:
    """Bring the database schema to the newest migration; return those applied, oldest first."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _alembic_config(url)
    before = current_revision(url)
    command.upgrade(config, "head")
    after = current_revision(url)
    if after is None or after == before:
        return []
    steps = ScriptDirectory.from_config(config).iterate_revisions(after, before)
    return [step.revision for step in reversed(list(steps))]


def current_revision(url: str) -> str | None:
    """Return the schema's migration (None: no migration applied yet)."""
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    """Take the database schema back to an older migration (its data may be lost)."""
    from alembic import command

    command.downgrade(_alembic_config(url), revision)


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    # SQLite's FTS5 tables and their shadow tables are made by raw SQL (migrations 0002, 0003).
    return not (
        type_ == "table" and (name or "").startswith(("review_request_fts", "review_request_words"))
    )


def include_object_for(dialect: str) -> Callable[..., bool]:
    """Leave PostgreSQL-only indexes (GIN trigram) out of autogenerate on other databases."""

    def include_object(obj: Any, _name: str | None, type_: str, *_args: Any) -> bool:
        if type_ == "index" and dialect != "postgresql" and isinstance(obj, Index):
            return not obj.dialect_options["postgresql"]["using"]
        return True

    return include_object
