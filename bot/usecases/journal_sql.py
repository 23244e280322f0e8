"""The journal's statements of every send (claim, start sending, status refresh), built once.

Part of the journal (bot/usecases/journal.py): only these and the journal write a message's
status. Building a SQLAlchemy statement and computing its cache key costs more CPU than running
it, and these run for every message a worker sends (bench/profile_dispatch.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, event, insert, inspect, update
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.orm.base import PASSIVE_NO_INITIALIZE
from sqlmodel import Session, col, select

from bot.domain.status import Status, request_status
from bot.domain.templating import sms_segments
from store.models import Event, Message, ReviewRequest


@dataclass(frozen=True)
class Start:
    """A claimed message ready to go: its text as it will be sent, and its sender's key."""

    message: Message
    body: str
    subject: str | None
    pace_key: str | None


def start_params(start: Start, lease: datetime, now: datetime) -> dict[str, Any]:
    """START_SENDING's values for one message."""
    message = start.message
    return {
        "b_id": message.id,
        "b_token": message.claim_token,
        "new_body": start.body,
        "new_subject": start.subject,
        # What it costs, kept beside the body so the period stats sum it in SQL.
        "new_segments": sms_segments(start.body).segments if message.channel == "sms" else None,
        "new_lease": lease,
        "new_pace_key": start.pace_key,
        "now": now,
    }


class StartLost(RuntimeError):
    """A batch's start moved fewer rows than it had messages: which one is unknown, so the
    batch is undone and each started alone."""


def rows_moved(result: object) -> int:
    """Return how many rows a guarded update moved."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


_MESSAGE_KEY = inspect(Message).identity_key_from_primary_key
STATUSES_OF = select(Message.id, Message.status).where(
    col(Message.request_id) == bindparam("request_id")
)
# Compare-and-set on the token and status checked: a worker that stalled past its lease while
# another re-claimed the message moves nothing, so sends nothing. The caller's copy of the row
# is not touched (it is done with it), hence no session synchronisation.
START_SENDING = (
    update(Message)
    .where(
        col(Message.status) == Status.CLAIMED.value,
        col(Message.claim_token) == bindparam("b_token"),
        col(Message.id) == bindparam("b_id"),
    )
    .values(
        status=Status.SENDING.value,
        body=bindparam("new_body"),
        subject=bindparam("new_subject"),
        segments=bindparam("new_segments"),
        lease_until=bindparam("new_lease"),
        pace_key=bindparam("new_pace_key"),
        updated_at=bindparam("now"),
    )
    .execution_options(synchronize_session=False)
)
CLAIM = (
    update(Message)
    .where(
        col(Message.id).in_(bindparam("b_ids", expanding=True)),
        col(Message.status) == Status.QUEUED.value,
    )
    .values(
        status=Status.CLAIMED.value,
        claim_token=bindparam("b_token"),
        lease_until=bindparam("b_lease"),
        updated_at=bindparam("now"),
    )
    .execution_options(synchronize_session=False)
)


STATUSES_OF_ALL = select(Message.request_id, Message.id, Message.status).where(
    col(Message.request_id).in_(bindparam("request_ids", expanding=True))
)
# session.info key: {request id: {message id: stored status}}, read ahead for a batch.
_READ_AHEAD = "reviewops.stored_statuses"


@contextmanager
def statuses_read_ahead(session: Session, request_ids: Collection[int]) -> Iterator[None]:
    """Read the stored statuses of several requests' messages in one query, for the refreshes
    of a batch (the dispatcher's record: one query instead of one per request).

    Kept true by every flush of the session until the block ends (`_follow_flush`); only the
    journal's Core statements (claim, start) write statuses past the ORM, and none runs
    where a batch is recorded.
    """
    known: dict[int, dict[int, str]] = {rid: {} for rid in request_ids}
    with session.no_autoflush:
        rows = session.execute(STATUSES_OF_ALL, {"request_ids": list(known)})
        for request_id, message_id, status in rows:
            known[request_id][message_id] = status
    session.info[_READ_AHEAD] = known
    try:
        yield
    finally:
        session.info.pop(_READ_AHEAD, None)


@event.listens_for(Session, "after_flush")
def _follow_flush(session: Session, _context: object) -> None:
    # What a flush wrote is what is stored now: the read-ahead follows it.
    known: dict[int, dict[int, str]] | None = session.info.get(_READ_AHEAD)
    if not known:
        return
    for message in (*session.new, *session.dirty):
        if isinstance(message, Message) and message.request_id in known and message.id:
            known[message.request_id][message.id] = message.status
    for message in session.deleted:
        if isinstance(message, Message) and message.request_id in known:
            known[message.request_id].pop(message.id or 0, None)


def _stored_statuses(session: Session, request_id: int | None) -> list[tuple[int, str]]:
    known: dict[int, dict[int, str]] | None = session.info.get(_READ_AHEAD)
    if known is not None and request_id in known:
        return list(known[request_id].items())
    with session.no_autoflush:
        return [(m, s) for m, s in session.execute(STATUSES_OF, {"request_id": request_id})]


def refresh_status(session: Session, request: ReviewRequest, now: datetime) -> None:
    """Recompute the request's displayed status from its messages.

    The statuses as a flush would leave them, without one: the stored ones (read now, or
    ahead for a batch), each replaced by the status this session changed and has not written
    yet (the request's one UPDATE and the message's are then written together, at the next
    flush).
    """
    stored = _stored_statuses(session, request.id)
    held, deleted = session.identity_map, session.deleted
    statuses: list[str] = []
    for message_id, status in stored:
        message = held.get(_MESSAGE_KEY((message_id,)))
        if message is None or not isinstance(message, Message):
            statuses.append(status)
        elif message not in deleted:
            changed = get_history(message, "status", passive=PASSIVE_NO_INITIALIZE).added
            statuses.append(changed[0] if changed else status)
    statuses += [
        m.status for m in session.new if isinstance(m, Message) and m.request_id == request.id
    ]
    request.status = request_status(Status(s) for s in statuses).value
    request.updated_at = now
    session.add(request)


# Core tables, not ORM classes: an ORM bulk insert of 1,000 rows ran 1,000 statements here.
REQUESTS, MESSAGES, EVENTS = (
    cast(Table, model.__table__)  # type: ignore[union-attr]
    for model in (ReviewRequest, Message, Event)
)
# session.info key: the event rows a batch recorded, inserted when the batch ends.
_EVENTS_HELD = "reviewops.events_held"


@contextmanager
def events_together(session: Session) -> Iterator[None]:
    """Insert the events recorded in this block in one statement when it ends (the
    dispatcher's record of a batch), not each as an ORM object of its own.

    On SQLite the ORM inserts event rows one statement each (it reads each new id back; no
    row needs it). Nothing in the block may read them back; if it raises, none is written.
    """
    held: list[dict[str, Any]] = []
    session.info[_EVENTS_HELD] = held
    try:
        yield
    finally:
        session.info.pop(_EVENTS_HELD, None)
    if held:
        session.execute(insert(EVENTS), held)


def held_events(session: Session) -> list[dict[str, Any]] | None:
    """The rows of an `events_together` block open on this session, else None."""
    held: list[dict[str, Any]] | None = session.info.get(_EVENTS_HELD)
    return held


def open_many(
    session: Session,
    requests: Sequence[dict[str, Any]],
    messages: Sequence[Sequence[dict[str, Any]]],
    events: Sequence[dict[str, Any]],
) -> list[int]:
    """Store new requests and their first messages as queued, with their `created` events.

    A CSV import's batch: a few statements (executemany), not several per request. The
    requests are one workspace's with new numbers, read back by number: SQLite can't return
    the ids of a multi-row insert in order. `messages[i]` and `events[i]` belong to
    `requests[i]`; return the requests' ids in order.
    """
    queued = Status.QUEUED.value
    session.execute(insert(REQUESTS), [{**r, "status": queued} for r in requests])
    workspace_id = requests[0]["workspace_id"]
    numbers = [r["number"] for r in requests]
    found = session.execute(
        select(ReviewRequest.number, ReviewRequest.id).where(
            col(ReviewRequest.workspace_id) == workspace_id,
            col(ReviewRequest.number).between(min(numbers), max(numbers)),
        )
    )
    by_number: dict[int, int] = {n: i for n, i in found if i is not None}
    ids = [by_number[n] for n in numbers]
    rows = [
        {**m, "request_id": rid, "status": queued, "token": secrets.token_urlsafe(18)}
        for rid, of_request in zip(ids, messages, strict=True)
        for m in of_request
    ]
    if rows:
        session.execute(insert(MESSAGES), rows)
    session.execute(
        insert(EVENTS), [{**e, "request_id": rid} for rid, e in zip(ids, events, strict=True)]
    )
    return ids
