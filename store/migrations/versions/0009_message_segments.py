"""an SMS's segment count, stored when it goes to `sending`

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:30:00

`/reviews stats` over a long period counted SMS segments in Python, body by body. The count is
now stored with the body when a message is handed to its provider, and summed in SQL. Rows
sent before this revision keep a NULL count and are counted from their body (only those).

A new nullable column: no table rebuild, so 0002's and 0003's SQLite triggers stay in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("message", sa.Column("segments", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; the message table is not rebuilt.
    op.drop_column("message", "segments")
