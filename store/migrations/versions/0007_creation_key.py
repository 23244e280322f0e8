"""creation keys: one request per Slack delivery, however many times it is delivered

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:00:00

A slash command or a modal submission delivered twice (a Slack retry, a double click) carries
the same key; the request it creates takes the key in its own transaction, so the second
delivery finds it and creates nothing. A new table only: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "creation_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["review_request.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "key", name="uq_creation_key"),
    )
    with op.batch_alter_table("creation_key", schema=None) as batch_op:
        batch_op.create_index("ix_creation_key_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("creation_key", schema=None) as batch_op:
        batch_op.drop_index("ix_creation_key_created")
    op.drop_table("creation_key")
