# ruff: noqa: F811  (a pytest fixture imported by name and used as an argument)
"""An error of ours while an order event is applied answers the shop a short 503 text (never
Flask's HTML page), so it retries; the log names the error's type, never the customer; the
retry finishes the event, once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from tests.test_order_triggers import (
    EMAIL,
    post_shopify,
    requests_made,
    shopify_order,
    trigger_events,
)
from tests.test_order_triggers_once import shop  # noqa: F401
from tests.test_webhooks_twilio import Web


@contextmanager
def table_away(web: Web, table: str) -> Iterator[None]:
    """Rename a table for a while: the database fails every statement that reads it."""
    with web.app.db.write() as session:
        session.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        yield
    finally:
        with web.app.db.write() as session:
            session.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))


def test_an_error_of_ours_answers_a_short_503_and_the_retry_asks_once(
    shop: Web, caplog: pytest.LogCaptureFixture
) -> None:
    with table_away(shop, "review_request"):
        failed = post_shopify(shop, shopify_order(), webhook_id="w-1")
    assert failed.status_code == 503
    assert failed.headers["Content-Type"].startswith("text/plain")
    assert failed.text == "could not take the event now: retry later\n"
    assert "shopify order webhook failed: " in caplog.text
    for private in (EMAIL, "Jane", "6 15 55 01 00"):
        assert private not in caplog.text
    assert [e.outcome for e in trigger_events(shop)] == ["pending"]

    retried = post_shopify(shop, shopify_order(), webhook_id="w-1")
    assert retried.json() == {"outcome": "created", "requests": [1]}
    assert len(requests_made(shop)) == 1
