"""Everything held about one customer, read in bounded batches for the data export.

A customer with thousands of requests is read a batch of requests at a time (keyset on id),
with those requests' messages and events, so memory holds one batch, never the whole history.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session, col, select

from store.models import Contact, Event, Message, ReviewRequest, Workspace

BATCH = 200


@dataclass(frozen=True)
class RequestBatch:
    requests: list[ReviewRequest]
    messages: dict[int, list[Message]]  # request id -> its messages, oldest first
    events: dict[int, list[Event]]  # request id -> its events (replies among them), oldest first


def team_id(session: Session, workspace_id: int) -> str:
    """Return the Slack team id of a workspace ("" when it has gone)."""
    workspace = session.get(Workspace, workspace_id)
    return workspace.team_id if workspace is not None else ""


def contact(session: Session, workspace_id: int, contact_id: int) -> Contact | None:
    """Return the contact when it belongs to this workspace."""
    found = session.get(Contact, contact_id)
    return found if found is not None and found.workspace_id == workspace_id else None


def request_batches(
    session: Session, workspace_id: int, contact_id: int, *, batch: int = BATCH
) -> Iterator[RequestBatch]:
    """Yield the contact's requests, oldest first, `batch` at a time, with what belongs to them."""
    after = 0
    while True:
        requests = list(
            session.exec(
                select(ReviewRequest)
                .where(
                    ReviewRequest.workspace_id == workspace_id,
                    ReviewRequest.contact_id == contact_id,
                    col(ReviewRequest.id) > after,
                )
                .order_by(col(ReviewRequest.id))
                .limit(batch)
            ).all()
        )
        if not requests:
            return
        ids = [r.id for r in requests if r.id is not None]
        messages: dict[int, list[Message]] = {i: [] for i in ids}
        events: dict[int, list[Event]] = {i: [] for i in ids}
        for message in session.exec(
            select(Message).where(col(Message.request_id).in_(ids)).order_by(col(Message.id))
        ).all():
            messages[message.request_id].append(message)
        for event in session.exec(
            select(Event).where(col(Event.request_id).in_(ids)).order_by(col(Event.id))
        ).all():
            assert event.request_id is not None
            events[event.request_id].append(event)
        yield RequestBatch(requests, messages, events)
        if len(requests) < batch:
            return
        after = ids[-1]
