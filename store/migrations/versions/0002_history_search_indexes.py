"""history at scale: filter and phone indexes, SQLite FTS5 trigram search, PostgreSQL pg_trgm

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 19:10:00

SQLite: `review_request_fts` is an FTS5 external-content table (trigram tokenizer, SQLite
>= 3.34) over customer_name, email and phone, kept in sync by three triggers. A later
migration that rebuilds review_request with batch_alter_table (copy and move) drops those
triggers with the old table: it must create them again (see `_SQLITE_TRIGGERS`).

PostgreSQL: GIN trigram indexes need the pg_trgm extension; creating it needs a role allowed
to (superuser, or a trusted-extension grant on PostgreSQL >= 13). The extension is left in
place on downgrade: other objects may use it.
"""

from __future__ import annotations

import sqlite3

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER review_request_fts_insert AFTER INSERT ON review_request BEGIN
        INSERT INTO review_request_fts(rowid, customer_name, email, phone)
        VALUES (new.id, new.customer_name, new.email, new.phone);
    END
    """,
    """
    CREATE TRIGGER review_request_fts_delete AFTER DELETE ON review_request BEGIN
        INSERT INTO review_request_fts(review_request_fts, rowid, customer_name, email, phone)
        VALUES ('delete', old.id, old.customer_name, old.email, old.phone);
    END
    """,
    # Only when a searched column is written: status updates must not touch the index.
    """
    CREATE TRIGGER review_request_fts_update
    AFTER UPDATE OF customer_name, email, phone ON review_request BEGIN
        INSERT INTO review_request_fts(review_request_fts, rowid, customer_name, email, phone)
        VALUES ('delete', old.id, old.customer_name, old.email, old.phone);
        INSERT INTO review_request_fts(rowid, customer_name, email, phone)
        VALUES (new.id, new.customer_name, new.email, new.phone);
    END
    """,
)

_PG_TRGM_INDEXES = {
    "ix_request_name_trgm": "customer_name",
    "ix_request_email_trgm": "email",
    "ix_request_phone_trgm": "phone",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # A sent-date range is read in sent order; a reference lookup is served newest first.
    op.create_index(
        "ix_request_ws_sent", "review_request", ["workspace_id", "sent_at", "id"], unique=False
    )
    op.drop_index("ix_request_ws_reference", table_name="review_request")
    op.create_index(
        "ix_request_ws_reference",
        "review_request",
        ["workspace_id", "reference", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_request_ws_channel_created",
        "review_request",
        ["workspace_id", "channel", "created_at", "id"],
        unique=False,
    )
    # A phone typed whole or by its start is an index range (LIKE 'start%' on PostgreSQL,
    # whatever the database collation).
    op.create_index(
        "ix_request_phone",
        "review_request",
        ["phone"],
        unique=False,
        postgresql_ops={"phone": "text_pattern_ops"},
    )
    if dialect == "sqlite":
        if sqlite3.sqlite_version_info < (3, 34, 0):
            raise RuntimeError(
                f"reviewops needs SQLite 3.34 or newer (FTS5 trigram search); this Python has "
                f"SQLite {sqlite3.sqlite_version}. Use a newer Python build, or PostgreSQL."
            )
        op.execute(
            "CREATE VIRTUAL TABLE review_request_fts USING fts5(customer_name, email, phone, "
            "content='review_request', content_rowid='id', tokenize='trigram')"
        )
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO review_request_fts(review_request_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, column in _PG_TRGM_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON review_request USING gin ({column} gin_trgm_ops)")
        # A finer sample lets the planner tell a common name (walk the history newest first)
        # from a rare one (read the trigram matches and sort them).
        for column in ("customer_name", "email"):
            op.execute(f"ALTER TABLE review_request ALTER COLUMN {column} SET STATISTICS 1000")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS review_request_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS review_request_fts")
    elif dialect == "postgresql":
        for name in _PG_TRGM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        for column in ("customer_name", "email"):
            op.execute(f"ALTER TABLE review_request ALTER COLUMN {column} SET STATISTICS -1")
    op.drop_index("ix_request_phone", table_name="review_request")
    op.drop_index("ix_request_ws_channel_created", table_name="review_request")
    op.drop_index("ix_request_ws_reference", table_name="review_request")
    op.create_index(
        "ix_request_ws_reference", "review_request", ["workspace_id", "reference"], unique=False
    )
    op.drop_index("ix_request_ws_sent", table_name="review_request")
