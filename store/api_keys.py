"""API keys and the first answers to idempotent POSTs (tables api_key, api_idempotency)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from store.integration_models import ApiIdempotency, ApiKey

# status_code of an Idempotency-Key taken by a call before it created (no answer kept yet).
IN_PROGRESS = 0


def add(session: Session, key: ApiKey) -> ApiKey:
    """Add a key in the caller's transaction and give it its id."""
    session.add(key)
    session.flush()
    return key


def by_hash(session: Session, secret_hash: str) -> ApiKey | None:
    """Return the key whose secret hashes to `secret_hash`, revoked or not."""
    return session.exec(select(ApiKey).where(ApiKey.secret_hash == secret_hash)).first()


def of_workspace(session: Session, workspace_id: int) -> list[ApiKey]:
    """Return a workspace's keys, oldest first, revoked ones included."""
    return list(
        session.exec(
            select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(col(ApiKey.id))
        ).all()
    )


def one(session: Session, workspace_id: int, key_id: int) -> ApiKey | None:
    """Return one key of a workspace (None for another workspace's key)."""
    key = session.get(ApiKey, key_id)
    return key if key is not None and key.workspace_id == workspace_id else None


def touch(session: Session, key_id: int, now: datetime, before: datetime) -> None:
    """Set a key's last use to `now` unless it was already used since `before`."""
    session.execute(
        update(ApiKey)
        .where(
            col(ApiKey.id) == key_id,
            or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < before),
        )
        .values(last_used_at=now)
    )


def answer(session: Session, api_key_id: int, key: str) -> ApiIdempotency | None:
    """Return the first answer kept for an Idempotency-Key of an API key, if any."""
    return session.exec(
        select(ApiIdempotency).where(
            ApiIdempotency.api_key_id == api_key_id, ApiIdempotency.key == key
        )
    ).first()


def finish(
    session: Session,
    *,
    api_key_id: int,
    key: str,
    body_hash: str,
    status_code: int,
    response: dict[str, Any],
) -> bool:
    """Keep the answer of a key taken for this body and still in progress; False if none."""
    result = session.execute(
        update(ApiIdempotency)
        .where(
            col(ApiIdempotency.api_key_id) == api_key_id,
            col(ApiIdempotency.key) == key,
            col(ApiIdempotency.body_hash) == body_hash,
            col(ApiIdempotency.status_code) == IN_PROGRESS,
        )
        .values(status_code=status_code, response=response)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def keep_answer(
    session: Session,
    *,
    api_key_id: int,
    key: str,
    body_hash: str,
    status_code: int,
    response: dict[str, Any],
    now: datetime,
) -> bool:
    """Keep the first answer to an Idempotency-Key; False (nothing written) if it has one.

    `status_code` IN_PROGRESS is the row of a call that took its key before creating (an older
    version did): `finish` keeps its answer.
    """
    table = ApiIdempotency.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(table)
        .values(
            api_key_id=api_key_id,
            key=key,
            body_hash=body_hash,
            status_code=status_code,
            response=response,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["api_key_id", "key"])
        .returning(table.c.id)  # a row back when kept (rowcount is -1 with RETURNING)
    )
    return result.first() is not None


def purge_answers(session: Session, before: datetime) -> None:
    """Forget the answers kept before `before`."""
    session.execute(delete(ApiIdempotency).where(col(ApiIdempotency.created_at) < before))
