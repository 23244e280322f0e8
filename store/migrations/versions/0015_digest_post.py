"""digest_post: the digest periods each workspace's digest was taken and posted for

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 11:00:00

One row per workspace and period ("daily:2026-11-22"), inserted before the digest is posted,
so two scheduler processes post it once between them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_post",
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspace.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("period", sa.String(32), primary_key=True),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("posted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("file_id", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("digest_post")
