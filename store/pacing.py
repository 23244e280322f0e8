"""Sender pace rows: take one under a lock, and count what waits behind each sender."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from store.models import Message, SenderPace

WAITING = ("queued", "claimed")  # a reserved message until it goes (or is paused or canceled)


def locked_pace(session: Session, key: str, rate: float, now: datetime) -> SenderPace:
    """Return a sender's pace row, created at `rate` if new, locked until the transaction ends.

    PostgreSQL: a row lock, so two workers take slots one after the other. SQLite: the write
    transaction (BEGIN IMMEDIATE) already holds the database's one write lock.
    """
    query = (
        select(SenderPace)
        .where(SenderPace.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    pace = session.exec(query).first()
    if pace is not None:
        return pace
    # A new sender: two workers may both find it missing; one insert wins, both then lock it.
    values = {"key": key, "rate": rate, "next_free_at": now, "throttled": 0, "updated_at": now}
    table = SenderPace.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return session.exec(query).one()


def waiting_ahead(session: Session, key: str, slot: datetime) -> int:
    """Count the messages holding an earlier slot with this sender."""
    return session.exec(
        select(func.count()).where(
            Message.pace_key == key,
            col(Message.paced_at) < slot,
            col(Message.status).in_(WAITING),
        )
    ).one()


def pace_of(session: Session, key: str) -> SenderPace | None:
    return session.get(SenderPace, key)


def paces(session: Session) -> Sequence[tuple[SenderPace, int]]:
    """Every sender's pace with how many messages hold a slot with it."""
    counts = dict(
        session.exec(
            select(Message.pace_key, func.count())
            .where(col(Message.paced_at).is_not(None), col(Message.status).in_(WAITING))
            .group_by(Message.pace_key)
        ).all()
    )
    rows = session.exec(select(SenderPace).order_by(col(SenderPace.key))).all()
    return [(row, counts.get(row.key, 0)) for row in rows]
