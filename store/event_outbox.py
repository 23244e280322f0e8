"""Rows of the event outbox (table `event_outbox`, migration 0014): the queue's heads, leases
and the guarded settling of a row (scheduler/events.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from store.integration_models import EventOutbox

PENDING, DONE, DROPPED = "pending", "done", "dropped"


def waiting_workspaces(session: Session) -> list[int]:
    """Return the workspaces with pending events, the one waiting longest first."""
    first = func.min(EventOutbox.id)
    rows = session.exec(
        select(EventOutbox.workspace_id, first)
        .where(EventOutbox.status == PENDING)
        .group_by(col(EventOutbox.workspace_id))
        .order_by(first)
    ).all()
    return [workspace_id for workspace_id, _ in rows]


def head(session: Session, workspace_id: int) -> tuple[int, datetime] | None:
    """Return (id, next_attempt_at) of a workspace's oldest pending event: the one to go next."""
    row = session.exec(
        select(EventOutbox.id, EventOutbox.next_attempt_at)
        .where(EventOutbox.workspace_id == workspace_id, EventOutbox.status == PENDING)
        .order_by(col(EventOutbox.id))
        .limit(1)
    ).first()
    return (int(row[0] or 0), row[1]) if row is not None else None


def take(session: Session, row_id: int, now: datetime, until: datetime) -> EventOutbox | None:
    """Lease a due pending row till `until` (the lease's token); None if it is not free."""
    taken = session.exec(
        update(EventOutbox)
        .where(
            col(EventOutbox.id) == row_id,
            col(EventOutbox.status) == PENDING,
            col(EventOutbox.next_attempt_at) <= now,
        )
        .values(next_attempt_at=until)
    )
    if taken.rowcount != 1:
        return None
    return session.get(EventOutbox, row_id)


def held(session: Session, row_id: int, token: datetime) -> EventOutbox | None:
    """Return the row, locked till the commit, if the lease `token` still holds it; else None.

    The guarded UPDATE is the fence: a worker whose lease ran out (frozen, slow receiver)
    finds the token moved by the row's next holder, or the row settled, and changes nothing.
    """
    still = session.exec(
        update(EventOutbox)
        .where(
            col(EventOutbox.id) == row_id,
            col(EventOutbox.status) == PENDING,
            col(EventOutbox.next_attempt_at) == token,
        )
        .values(next_attempt_at=token)
    )
    if still.rowcount != 1:
        return None
    return session.get(EventOutbox, row_id)


def purge_settled(session: Session, before: datetime) -> int:
    """Delete rows settled before `before`; return how many."""
    result = session.exec(
        delete(EventOutbox).where(
            col(EventOutbox.status) != PENDING, col(EventOutbox.done_at) < before
        )
    )
    return int(result.rowcount or 0)


def count_pending(session: Session) -> int:
    """Count the events waiting to go out, in every workspace."""
    return int(
        session.exec(
            select(func.count()).select_from(EventOutbox).where(EventOutbox.status == PENDING)
        ).one()
    )
