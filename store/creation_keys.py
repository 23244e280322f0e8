"""Creation keys: the delivery each request was created from (table creation_key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from store.models import CreationKey, ReviewRequest


def request_number(session: Session, workspace_id: int, key: str) -> int | None:
    """Return the number of the request created under `key`, if there is one."""
    return session.exec(
        select(ReviewRequest.number)
        .join(CreationKey, col(CreationKey.request_id) == col(ReviewRequest.id))
        .where(CreationKey.workspace_id == workspace_id, CreationKey.key == key)
    ).first()


def take(session: Session, workspace_id: int, key: str, now: datetime) -> bool:
    """Take `key` for this transaction; say False if another transaction took it.

    PostgreSQL: a second transaction taking the same key waits here for the first to end, then
    takes nothing (or takes it, if the first rolled back). SQLite: writers run one at a time.
    """
    table = CreationKey.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(workspace_id=workspace_id, key=key, created_at=now)
        .on_conflict_do_nothing(index_elements=["workspace_id", "key"])
        .returning(table.c.id)  # a row back when taken (rowcount is -1 with RETURNING)
    )
    return session.execute(statement).first() is not None


def link(session: Session, workspace_id: int, key: str, request_id: int) -> None:
    """Note the request created under the key this transaction took."""
    session.execute(
        update(CreationKey)
        .where(col(CreationKey.workspace_id) == workspace_id, col(CreationKey.key) == key)
        .values(request_id=request_id)
    )


def purge(session: Session, before: datetime) -> None:
    """Forget keys taken before `before` (no delivery is retried that late)."""
    session.execute(delete(CreationKey).where(col(CreationKey.created_at) < before))
