"""per-sender pacing: the sender_pace table, and each message's sender and reserved slot

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00

Every worker reserves a message's slot with its provider sender in `sender_pace` (one row per
sender, locked while a slot is taken), so the pace holds across workers. A message keeps the
sender it goes through (`pace_key`) and, while it waits, its slot (`paced_at`).

New nullable columns and a new table: no table rebuild, so 0002's and 0003's SQLite triggers
stay in place. Downgrade drops them (reservations are lost: messages are re-paced as they go).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sender_pace",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("next_free_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("slowed_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("throttled", sa.Integer(), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.add_column(
        "message",
        sa.Column("pace_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    )
    op.add_column(
        "message",
        sa.Column("paced_at", store.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_message_pace", "message", ["pace_key", "paced_at"])


def downgrade() -> None:
    op.drop_index("ix_message_pace", table_name="message")
    # SQLite (3.35+) drops a plain column in place; the message table is not rebuilt.
    op.drop_column("message", "paced_at")
    op.drop_column("message", "pace_key")
    op.drop_table("sender_pace")
