"""One request per delivery: a key names the delivery a request is created from.

Slack may deliver a slash command or a modal submission twice (a retry after a slow ack, a
double click). The surface names the delivery with a key; the request it creates takes the key
in its own transaction, so a second delivery (in any process) finds it and creates nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from store import creation_keys
from store.models import ReviewRequest

# Slack retries within minutes and a double click within a second: a day is plenty.
KEEP_KEYS = timedelta(days=1)


class AlreadyCreated(Exception):  # noqa: N818  (a fact, not a failure: the work was done)
    """This delivery already created request #number: there is nothing more to do."""

    def __init__(self, number: int | None) -> None:
        super().__init__(f"already created #{number}")
        self.number = number


def claim(session: Session, workspace_id: int, key: str | None, now: datetime) -> None:
    """Take `key` first thing in the creating transaction; raise AlreadyCreated if taken.

    Taken before any other write, so a second delivery in flight at the same time waits for the
    first (PostgreSQL) instead of racing it to create the same contact. No key (the CLI):
    nothing to take.
    """
    if key is None:
        return
    creation_keys.purge(session, now - KEEP_KEYS)
    if not creation_keys.take(session, workspace_id, key, now):
        raise AlreadyCreated(creation_keys.request_number(session, workspace_id, key))


def record(session: Session, workspace_id: int, key: str | None, request: ReviewRequest) -> None:
    """Note the request created under the key this transaction took (if it took one)."""
    if key is None:
        return
    assert request.id is not None  # flushed by the journal
    creation_keys.link(session, workspace_id, key, request.id)
