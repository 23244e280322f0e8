"""one contact per email address in any case: merge duplicates, unique index on lower(email)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:00:00

Contacts were matched by their exact address in places, so `Jane@example.com` and
`jane@example.com` could become two contacts, and an unsubscribe on one did not stop email to
the other. Duplicates in a workspace are merged into the earliest contact: its requests point
to it, it keeps the earliest opt-out of either for each channel (and a number it lacked).
Then a unique index on (workspace_id, lower(email)) refuses a second one for good.

An index on an expression, added beside the exact-address constraint of 0001: no table
rebuild, so 0002's and 0003's SQLite triggers stay in place. Downgrade drops the index; the
merged contacts stay merged.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "uq_contact_email_folded"

_CONTACT = sa.table(
    "contact",
    sa.column("id", sa.Integer),
    sa.column("workspace_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("phone", sa.String),
    sa.column("phone_opted_out_at", UTCDateTime()),
    sa.column("email_opted_out_at", UTCDateTime()),
)


class _Kept(NamedTuple):
    id: int
    phone: str | None
    phone_opted_out_at: datetime | None
    email_opted_out_at: datetime | None


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    present = [moment for moment in (a, b) if moment is not None]
    return min(present) if present else None


def _merge(conn: sa.Connection, keep: _Kept, other: _Kept) -> _Kept:
    """Move one duplicate contact's requests and opt-outs to the contact that stays."""
    merged = keep._replace(
        phone=keep.phone or other.phone,
        phone_opted_out_at=_earliest(keep.phone_opted_out_at, other.phone_opted_out_at),
        email_opted_out_at=_earliest(keep.email_opted_out_at, other.email_opted_out_at),
    )
    conn.execute(
        sa.text("UPDATE review_request SET contact_id = :keep WHERE contact_id = :other"),
        {"keep": keep.id, "other": other.id},
    )
    conn.execute(sa.text("DELETE FROM contact WHERE id = :other"), {"other": other.id})
    # The duplicate is gone first, so the number it held may move to the contact that stays.
    conn.execute(
        _CONTACT.update()
        .where(_CONTACT.c.id == keep.id)
        .values(
            phone=merged.phone,
            phone_opted_out_at=merged.phone_opted_out_at,
            email_opted_out_at=merged.email_opted_out_at,
        )
    )
    return merged


def upgrade() -> None:
    conn = op.get_bind()
    c = _CONTACT.c
    rows = conn.execute(
        sa.select(_CONTACT)
        .where(c.email.is_not(None))
        .order_by(c.workspace_id, sa.func.lower(c.email), c.id)
    ).all()
    kept: dict[tuple[int, str], _Kept] = {}
    for row in rows:
        key = (row.workspace_id, row.email.lower())
        found = _Kept(row.id, row.phone, row.phone_opted_out_at, row.email_opted_out_at)
        kept[key] = _merge(conn, kept[key], found) if key in kept else found
    op.execute(f"CREATE UNIQUE INDEX {INDEX} ON contact (workspace_id, lower(email))")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
