"""Shared fixtures: databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set) and clocks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.clock import FrozenClock
from bot.domain.events import allow_private_targets
from store import db as store_db
from store.db import Database
from tests.fakes.smtp_server import SmtpServer

PG_URL = os.environ.get("TEST_DATABASE_URL")
TABLES = (
    "api_idempotency",
    "api_key",
    "trigger_order",
    "trigger_event",
    "event_outbox",
    "digest_post",
    "audit",
    "suppression",
    "oauth_state",
    "creation_key",
    "sender_pace",
    "webhook_inbox",
    "slack_outbox",
    "event",
    "message",
    "review_request",
    "import_batch",
    "contact",
    "workspace",
)

# Monday 2026-11-23 10:00 UTC: inside the default Mon-Fri 09:00-19:00 window in UTC.
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def events_reach_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests' event receivers listen on 127.0.0.1: allowed, as EVENTS_ALLOW_PRIVATE=1 does.
    A test of the refusals turns it off (`allow_private_targets(False)`)."""
    monkeypatch.setenv("EVENTS_ALLOW_PRIVATE", "1")
    allow_private_targets(True)
    yield
    allow_private_targets(False)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it received."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Migrate once, copy per test: each test gets a fresh, fully migrated file.
    path = tmp_path_factory.mktemp("template") / "template.db"
    store_db.upgrade(f"sqlite:///{path}")
    return path


def _worker_database(url: str) -> str:
    """TEST_DATABASE_URL itself, or under pytest-xdist a database of the worker's own next to
    it (`test_gw0`, created if missing): each worker empties its tables before every test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _pg_ready() -> str | None:
    if not PG_URL:
        return None
    url = _worker_database(PG_URL)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    store_db.upgrade(url)
    return url


def _database_params() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(params=_database_params())
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, and PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "reviewops.db"
        shutil.copyfile(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("_pg_ready")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Undo what a CLI command's logging set-up (bot/logging_setup.py) did to this process."""
    import logging

    from bot.logging_setup import QUIET_LIBRARIES

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET)
