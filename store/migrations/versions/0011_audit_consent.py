"""audit trail and consent record

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:40:00

`audit` keeps every admin action and decision (settings changes with old and new values,
cancel all, deletes, erasures, exports, decisions about messages in doubt, install and
uninstall) with who, when and from where. `review_request` gains how it was asked for
(`origin`) and, when the sender confirmed it, when and by whom the customer's agreement to be
contacted was given (`consent_at`, `consent_by`). New nullable columns and a new table: no
table rebuild, so 0002's and 0003's SQLite triggers stay in place.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("actor_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index("ix_audit_ws_at", ["workspace_id", "at", "id"], unique=False)
    op.add_column(
        "review_request",
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.add_column(
        "review_request",
        sa.Column("consent_at", store.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "review_request",
        sa.Column("consent_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; review_request is not rebuilt.
    op.drop_column("review_request", "consent_by")
    op.drop_column("review_request", "consent_at")
    op.drop_column("review_request", "origin")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_ws_at")
    op.drop_table("audit")
