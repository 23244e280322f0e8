"""How many transactions one API create takes, counted on the real app's engine: the key's
lookup (a read) and one write transaction holding the request, its first message, its
creation key and, under an Idempotency-Key, the kept answer. A structural check (a second
write transaction per create is a commit, and on PostgreSQL a WAL flush, more), not a timing
one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.api_harness import PHONE, ApiServer, api_fixture  # noqa: F401

CREATE = "/api/v1/requests"


@contextmanager
def transactions(api: ApiServer) -> Iterator[Counter[str]]:
    """Count the transactions begun, committed and rolled back on the app's engine."""
    seen: Counter[str] = Counter()
    engine = api.app.db.engine  # the write engine shares its events

    def begun(_conn: object) -> None:
        seen["begin"] += 1

    def committed(_conn: object) -> None:
        seen["commit"] += 1

    def rolled_back(_conn: object) -> None:
        seen["rollback"] += 1

    hooks = (("begin", begun), ("commit", committed), ("rollback", rolled_back))
    for name, hook in hooks:
        event.listen(engine, name, hook)
    try:
        yield seen
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)


@pytest.mark.parametrize("idempotency_key", [None, "order-1042"])
def test_an_api_create_is_one_write_transaction_after_the_key_lookup(
    api: ApiServer, idempotency_key: str | None
) -> None:
    # The key's last use is stamped at most once a minute: this call stamps it.
    api.create(phone="+33 6 00 00 00 01")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with transactions(api) as seen:
        created = api.post(CREATE, json={"name": "Jane", "phone": PHONE}, headers=headers)
    assert created.status_code == 201, created.text
    # One read (the key, by its hash) and one write (the request, and the kept answer).
    assert seen == {"begin": 2, "commit": 1, "rollback": 1}, seen


def test_a_replayed_answer_writes_nothing(api: ApiServer) -> None:
    headers = {"Idempotency-Key": "order-1042"}
    first = api.post(CREATE, json={"name": "Jane", "phone": PHONE}, headers=headers)
    with transactions(api) as seen:
        again = api.post(CREATE, json={"name": "Jane", "phone": PHONE}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert seen["commit"] == 0, seen
