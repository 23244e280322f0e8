"""CSV imports: their rows (`import_batch`) and the bulk reads that check thousands of rows at once.

A send form looks up one contact; an import of 100,000 rows reads its contacts, suppressions
and recent requests in chunks of `CHUNK` addresses, then checks each row against those
(bot/usecases/importing.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from store.contacts import counts_for_cooldown
from store.integration_models import ImportBatch
from store.models import Contact, ReviewRequest, Suppression

T = TypeVar("T")
CHUNK = 500  # bound parameters per IN (SQLite allows 32,766; PostgreSQL 65,535)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Cut a sequence into pieces of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def contacts_by_phone(
    session: Session, workspace_id: int, phones: Iterable[str]
) -> dict[str, Contact]:
    """Return the workspace's contacts with these E.164 numbers, by number."""
    found: dict[str, Contact] = {}
    for part in chunks(sorted(set(phones))):
        rows = session.exec(
            select(Contact).where(
                Contact.workspace_id == workspace_id, col(Contact.phone).in_(part)
            )
        )
        found.update({c.phone: c for c in rows if c.phone})
    return found


def contacts_by_email(
    session: Session, workspace_id: int, emails: Iterable[str]
) -> dict[str, Contact]:
    """Return the workspace's contacts with these addresses (any case), by folded address."""
    found: dict[str, Contact] = {}
    for part in chunks(sorted({e.lower() for e in emails})):
        rows = session.exec(
            select(Contact).where(
                Contact.workspace_id == workspace_id, func.lower(col(Contact.email)).in_(part)
            )
        )
        found.update({c.email.lower(): c for c in rows if c.email})
    return found


def suppressed(
    session: Session, workspace_id: int, kind: str, digests: Iterable[str]
) -> dict[str, datetime]:
    """Return when each of these erased customers' addresses opted out, by digest."""
    found: dict[str, datetime] = {}
    for part in chunks(sorted(set(digests))):
        rows = session.exec(
            select(Suppression.digest, Suppression.opted_out_at).where(
                Suppression.workspace_id == workspace_id,
                Suppression.kind == kind,
                col(Suppression.digest).in_(part),
            )
        )
        found.update(dict(rows.all()))
    return found


def latest_requests(
    session: Session, workspace_id: int, contact_ids: Iterable[int], since: datetime
) -> dict[int, ReviewRequest]:
    """Return each contact's newest request since a time that counts for the cooldown."""
    found: dict[int, ReviewRequest] = {}
    for part in chunks(sorted(set(contact_ids))):
        rows = session.exec(
            select(ReviewRequest)
            .where(
                *counts_for_cooldown(workspace_id, since),
                col(ReviewRequest.contact_id).in_(part),
            )
            .order_by(col(ReviewRequest.created_at))
        )
        for request in rows:  # oldest first: the newest of each contact stays
            assert request.contact_id is not None
            found[request.contact_id] = request
    return found


def insert_contacts(session: Session, workspace_id: int, rows: list[dict[str, Any]]) -> list[int]:
    """Insert new contacts (each with a phone or an email no contact had); return their ids.

    A contact someone else inserted meanwhile with the same phone or email is kept (ON
    CONFLICT DO NOTHING) and its id returned: a concurrent insert never aborts the batch.
    Read back by address: SQLite can't return the ids of a multi-row insert in order.
    """
    if not rows:
        return []
    # Core's executemany: the ORM's bulk insert ran one statement per row here.
    table = cast(Table, Contact.__table__)  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    session.execute(statement.on_conflict_do_nothing(), rows)
    by_phone = contacts_by_phone(session, workspace_id, [r["phone"] for r in rows if r["phone"]])
    by_email = contacts_by_email(session, workspace_id, [r["email"] for r in rows if r["email"]])
    ids = []
    for row in rows:
        found = (by_phone.get(row["phone"]) if row["phone"] else None) or (
            by_email.get(row["email"].lower()) if row["email"] else None
        )
        assert found is not None and found.id is not None
        ids.append(found.id)
    return ids


def import_batch(session: Session, workspace_id: int, import_id: int) -> ImportBatch | None:
    """Return a workspace's import by id."""
    batch = session.get(ImportBatch, import_id)
    return batch if batch is not None and batch.workspace_id == workspace_id else None


def lock_import(session: Session, workspace_id: int, import_id: int) -> ImportBatch | None:
    """Return a workspace's import, its row locked until the caller's transaction ends.

    SELECT ... FOR UPDATE on PostgreSQL; on SQLite the write transaction already excludes
    every other writer. A batch and a cancel take turns on this row.
    """
    return session.exec(
        select(ImportBatch)
        .where(col(ImportBatch.id) == import_id, ImportBatch.workspace_id == workspace_id)
        .with_for_update()
    ).first()


def count_created(session: Session, import_id: int, created: int) -> None:
    """Add to the count of requests an import created."""
    session.execute(
        update(ImportBatch)
        .where(col(ImportBatch.id) == import_id)
        .values(created=ImportBatch.created + created)
    )


def numbers_of_import(session: Session, workspace_id: int, import_id: int) -> list[int]:
    """Return the numbers of an import's requests (not deleted), in order."""
    return list(
        session.exec(
            select(ReviewRequest.number)
            .where(
                ReviewRequest.workspace_id == workspace_id,
                ReviewRequest.import_id == import_id,
                col(ReviewRequest.deleted_at).is_(None),
            )
            .order_by(col(ReviewRequest.number))
        ).all()
    )
