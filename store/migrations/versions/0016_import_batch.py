"""CSV imports: the import_batch table and review_request.import_id

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 11:00:00

`import_batch` keeps one row per confirmed CSV import (file name, rows, who, when, state);
every request it created carries its id (`review_request.import_id`, indexed per workspace),
so the list filters `import:ID` and one action cancels the whole import. A new nullable
column: no table rebuild, so 0002's and 0003's SQLite triggers stay in place.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import store.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("import_batch", schema=None) as batch_op:
        batch_op.create_index("ix_import_ws_created", ["workspace_id", "created_at"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place (no table rebuild); Alembic's
        # add_column would try a separate ALTER of the constraint, which SQLite lacks. No ON
        # DELETE: SQLAlchemy does not read it back from a column's own REFERENCES clause.
        op.execute(
            "ALTER TABLE review_request ADD COLUMN import_id INTEGER REFERENCES import_batch (id)"
        )
    else:
        op.add_column(
            "review_request",
            sa.Column(
                "import_id",
                sa.Integer(),
                sa.ForeignKey("import_batch.id"),
                nullable=True,
            ),
        )
    op.create_index(
        "ix_request_ws_import", "review_request", ["workspace_id", "import_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_request_ws_import", table_name="review_request")
    # SQLite (3.35+) drops a plain column in place; review_request is not rebuilt.
    op.drop_column("review_request", "import_id")
    with op.batch_alter_table("import_batch", schema=None) as batch_op:
        batch_op.drop_index("ix_import_ws_created")
    op.drop_table("import_batch")
