"""erasure: suppressions of erased opted-out customers, requests erased by retention

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:00:00

`suppression` keeps only a keyed hash of an erased customer's opted-out phone or email.
`review_request.erased_at` marks a request whose personal data the retention job erased; a
new nullable column, so no table rebuild and 0002's and 0003's SQLite triggers stay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "review_request", sa.Column("erased_at", UTCDateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "suppression",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspace.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("opted_out_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("erased_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("senders", sa.JSON(), nullable=False),
        sa.UniqueConstraint("workspace_id", "kind", "digest", name="uq_suppression_digest"),
    )
    op.create_index("ix_suppression_digest", "suppression", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_suppression_digest", table_name="suppression")
    op.drop_table("suppression")
    op.drop_column("review_request", "erased_at")
