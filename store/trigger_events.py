"""Shop order events (table trigger_event) and the shop's ids of each order (trigger_order)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from store.integration_models import TriggerEvent, TriggerOrder
from store.models import ReviewRequest

PENDING = "pending"


def _insert(session: Session) -> Any:
    """The dialect's INSERT (both have ON CONFLICT DO NOTHING)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def take(
    session: Session,
    workspace_id: int,
    *,
    source: str,
    event_id: str,
    kind: str,
    reference: str | None,
    now: datetime,
) -> TriggerEvent:
    """Return the event's row: a new pending one, or the one an earlier delivery made.

    PostgreSQL: a second delivery at the same time waits here for the first's transaction.
    """
    table = TriggerEvent.__table__  # type: ignore[attr-defined]
    session.execute(
        _insert(session)(table)
        .values(
            workspace_id=workspace_id,
            source=source,
            event_id=event_id,
            kind=kind,
            reference=reference,
            outcome=PENDING,
            numbers=[],
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "source", "event_id"])
    )
    return session.exec(
        select(TriggerEvent).where(
            TriggerEvent.workspace_id == workspace_id,
            TriggerEvent.source == source,
            TriggerEvent.event_id == event_id,
        )
    ).one()


def settle(
    session: Session,
    event_id: int,
    *,
    outcome: str,
    reason: str | None,
    numbers: Sequence[int],
    now: datetime,
) -> TriggerEvent:
    """Write what an event did (once: a row already settled keeps its first outcome)."""
    row = session.get(TriggerEvent, event_id, with_for_update=True)
    assert row is not None
    if row.outcome == PENDING:
        row.outcome, row.reason, row.numbers, row.settled_at = outcome, reason, list(numbers), now
        session.add(row)
    return row


def _note_key(
    session: Session, workspace_id: int, source: str, key: str, reference: str, now: datetime
) -> Any:
    """Insert one of an order's ids with its reference, unless it is already noted."""
    table = TriggerOrder.__table__  # type: ignore[attr-defined]
    return (
        _insert(session)(table)
        .values(
            workspace_id=workspace_id,
            source=source,
            order_key=key,
            reference=reference,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "source", "order_key"])
    )


def remember_order(
    session: Session,
    workspace_id: int,
    source: str,
    keys: Sequence[str],
    reference: str,
    now: datetime,
) -> None:
    """Note the reference an order's ids stand for (the first reference given is kept)."""
    for key in keys:
        session.execute(_note_key(session, workspace_id, source, key, reference, now))


def claim_order(
    session: Session,
    workspace_id: int,
    source: str,
    keys: Sequence[str],
    reference: str,
    now: datetime,
) -> list[str]:
    """Note this order's ids for `reference`; return the references of those already noted.

    PostgreSQL: a claim of the same id in a transaction not yet committed waits for it.
    """
    table = TriggerOrder.__table__  # type: ignore[attr-defined]
    known: list[str] = []
    for key in keys:
        result = session.execute(
            _note_key(session, workspace_id, source, key, reference, now).returning(table.c.id)
        )
        if result.first() is None:  # it was there
            known.append(key)
    return references(session, workspace_id, source, known) if known else []


def asked(
    session: Session, workspace_id: int, references: Sequence[str], created_by: str
) -> int | None:
    """The number of the first request `created_by` (a shop) made for one of these references."""
    return session.exec(
        select(ReviewRequest.number)
        .where(
            ReviewRequest.workspace_id == workspace_id,
            ReviewRequest.created_by == created_by,
            col(ReviewRequest.reference).in_(list(references)),
        )
        .order_by(col(ReviewRequest.number))
        .limit(1)
    ).first()


def references(session: Session, workspace_id: int, source: str, keys: Sequence[str]) -> list[str]:
    """The references of the orders known by any of these ids."""
    found = session.exec(
        select(TriggerOrder.reference)
        .where(
            TriggerOrder.workspace_id == workspace_id,
            TriggerOrder.source == source,
            col(TriggerOrder.order_key).in_(list(keys)),
        )
        .distinct()
    ).all()
    return sorted(found)


def recent(session: Session, workspace_id: int, *, limit: int) -> list[TriggerEvent]:
    """The workspace's latest order events, newest first."""
    return list(
        session.exec(
            select(TriggerEvent)
            .where(TriggerEvent.workspace_id == workspace_id)
            .order_by(col(TriggerEvent.received_at).desc(), col(TriggerEvent.id).desc())
            .limit(limit)
        ).all()
    )


def count_since(session: Session, workspace_id: int, outcome: str, since: datetime) -> int:
    """Count the workspace's order events with an outcome since a time."""
    return session.exec(
        select(func.count()).where(
            TriggerEvent.workspace_id == workspace_id,
            TriggerEvent.outcome == outcome,
            col(TriggerEvent.received_at) >= since,
        )
    ).one()


def purge(session: Session, before: datetime) -> None:
    """Forget events and order ids older than `before` (no shop retries that late)."""
    session.execute(delete(TriggerEvent).where(col(TriggerEvent.received_at) < before))
    session.execute(delete(TriggerOrder).where(col(TriggerOrder.created_at) < before))
