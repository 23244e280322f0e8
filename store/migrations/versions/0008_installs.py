"""installs: OAuth states used once, and an index to route customers' texts back

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:00:00

`oauth_state` keeps each OAuth `state` once used, so that a second redirect with it is
refused by its primary key, whichever process answers. `ix_message_to_sender` finds the
messages handed to a customer's number through one sender (an inbound text's `To`). A new
table and a new index only: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_state",
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("used_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state"),
    )
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        batch_op.create_index("ix_oauth_state_used_at", ["used_at"], unique=False)
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index("ix_message_to_sender", ["to_address", "pace_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_to_sender")
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_state_used_at")
    op.drop_table("oauth_state")
