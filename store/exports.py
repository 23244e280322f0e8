"""The export's read: every matching request as plain column tuples, in keyset batches.

`store.queries.iter_requests` streams too, but builds a full ORM object per row, which
halves the export's speed over a million rows; this reads only the exported columns as
tuples, with the same filter (`conditions`) and the same order (newest first, keyed on
created_at and id, no OFFSET).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select, tuple_
from sqlmodel import Session, col

from store.filter_sql import HistoryFilter, conditions
from store.models import ReviewRequest

BATCH = 5000


class ExportRow(NamedTuple):
    id: int
    number: int
    customer_name: str
    email: str | None
    phone: str | None
    channel: str
    created_by_name: str
    created_by: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    review_type: str
    reference: str | None
    retries: int
    last_error: str | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    origin: str | None
    consent_at: datetime | None


_r = ReviewRequest
_COLUMNS = tuple(col(getattr(_r, name)) for name in ExportRow._fields)


def iter_export_rows(
    session: Session, workspace_id: int, f: HistoryFilter, *, batch: int = BATCH
) -> Iterator[ExportRow]:
    """Yield every request matching the filter, newest first, `batch` rows per query."""
    after: tuple[datetime, int] | None = None
    while True:
        where = conditions(workspace_id, f)
        if after is not None:
            created, ident = after
            # A row-value comparison: both databases walk the (workspace, created_at, id)
            # index from the cursor, where the OR form may rescan it on PostgreSQL.
            where.append(tuple_(col(_r.created_at), col(_r.id)) < (created, ident))
        rows = session.execute(
            select(*_COLUMNS)
            .where(*where)
            .order_by(col(_r.created_at).desc(), col(_r.id).desc())
            .limit(batch)
        ).all()
        for row in rows:
            yield ExportRow._make(row)
        if len(rows) < batch:
            return
        last = rows[-1]
        after = (last.created_at, last.id)
