"""A PostgreSQL that takes the connection but never answers does not hold the process: the
attempt gives up (libpq's connect_timeout) and /healthz's check says the database failed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.health import check_health
from store.db import Database


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port whose backlog takes the connection and nobody ever answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


@pytest.mark.timeout(60)  # without a connect timeout the check waits for ever
def test_a_silent_postgresql_fails_the_health_check_instead_of_hanging(silent_server: int) -> None:
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/test")
    try:
        health = check_health(db, datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    finally:
        db.engine.dispose()
    assert health.failing
    assert health.checks["database"] == {"ok": False, "error": "OperationalError"}
