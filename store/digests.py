"""Digest periods taken and posted (table digest_post)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from store.integration_models import DigestPost


def take(session: Session, workspace_id: int, period: str, now: datetime) -> bool:
    """Take a workspace's digest period for this transaction; False if it was taken before.

    PostgreSQL: a second transaction taking the same period waits for the first to end, then
    takes nothing (or takes it, if the first rolled back). SQLite: writers run one at a time.
    """
    table = DigestPost.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(workspace_id=workspace_id, period=period, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["workspace_id", "period"])
        .returning(table.c.period)
    )
    return session.execute(statement).first() is not None


def posted(
    session: Session, workspace_id: int, period: str, *, now: datetime, channel: str, file_id: str
) -> None:
    """Note that the period's digest reached Slack, where and as which file."""
    session.execute(
        update(DigestPost)
        .where(col(DigestPost.workspace_id) == workspace_id, col(DigestPost.period) == period)
        .values(posted_at=now, channel=channel, file_id=file_id)
    )


def release(session: Session, workspace_id: int, period: str) -> None:
    """Give a period back (Slack could not be reached): a later run takes it again."""
    session.execute(
        delete(DigestPost).where(
            col(DigestPost.workspace_id) == workspace_id,
            col(DigestPost.period) == period,
            col(DigestPost.posted_at).is_(None),
        )
    )
