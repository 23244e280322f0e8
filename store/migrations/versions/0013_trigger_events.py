"""order triggers: shop events taken once, and the shop's ids of each order

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 11:00:00

`trigger_event` keeps each Shopify or Stripe event a workspace received (unique per workspace,
source and event id: a second delivery finds it) and what it did: a request created, an order
skipped with its reason, requests canceled. `trigger_order` maps a shop's ids of an order
(order id, payment intent, invoice) to the reference its request was given, so a refund, which
names the order only by id, finds it. New tables only: no table rebuild.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "trigger_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("source", _text(16), nullable=False),
        sa.Column("event_id", _text(100), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("reference", _text(100), nullable=True),
        sa.Column("outcome", _text(16), nullable=False),
        sa.Column("reason", _text(500), nullable=True),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.Column("received_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "source", "event_id", name="uq_trigger_event"),
    )
    op.create_index(
        "ix_trigger_event_ws_at", "trigger_event", ["workspace_id", "received_at", "id"]
    )
    op.create_index("ix_trigger_event_at", "trigger_event", ["received_at"])
    op.create_table(
        "trigger_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("source", _text(16), nullable=False),
        sa.Column("order_key", _text(100), nullable=False),
        sa.Column("reference", _text(100), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "source", "order_key", name="uq_trigger_order"),
    )
    op.create_index("ix_trigger_order_at", "trigger_order", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_trigger_order_at", table_name="trigger_order")
    op.drop_table("trigger_order")
    op.drop_index("ix_trigger_event_at", table_name="trigger_event")
    op.drop_index("ix_trigger_event_ws_at", table_name="trigger_event")
    op.drop_table("trigger_event")
