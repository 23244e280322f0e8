"""Insert history rows directly, for exports and stats over data a test controls exactly.

The use-cases validate what people type (a name like `=HYPERLINK(...)` is fine, an email
starting with `=` is not); these rows stand for what may already be stored, imported or
typed elsewhere, so every column can carry a hostile value.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from store.db import Database
from store.models import Message, ReviewRequest

_counter = {"token": 0}


def add_requests(
    db: Database, workspace_id: int, rows: list[dict[str, Any]], *, at: datetime
) -> list[int]:
    """Insert requests (defaults filled in), each a second older than the previous; return ids."""
    with db.write() as session:
        top = session.execute(
            select(func.max(ReviewRequest.number)).where(ReviewRequest.workspace_id == workspace_id)
        ).scalar()
        number = int(top or 0)
        values = []
        for i, row in enumerate(rows):
            number += 1
            created = at - timedelta(seconds=i)
            values.append(
                {
                    "workspace_id": workspace_id,
                    "number": number,
                    "customer_name": f"Customer {number}",
                    "phone": f"+3361{number:07d}",
                    "email": None,
                    "language": "en",
                    "method": "sms",
                    "channel": "sms",
                    "review_type": "service",
                    "reference": None,
                    "status": "queued",
                    "created_by": "U0ALICE",
                    "created_by_name": "alice",
                    "created_at": created,
                    "updated_at": created,
                    "retries": 0,
                    **row,
                }
            )
        by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for value in values:
            by_keys.setdefault(tuple(sorted(value)), []).append(value)
        for same in by_keys.values():
            session.execute(insert(ReviewRequest.__table__), same)  # type: ignore[attr-defined]
        numbers = [v["number"] for v in values]
        found = dict(
            session.execute(
                select(ReviewRequest.number, ReviewRequest.id).where(
                    ReviewRequest.workspace_id == workspace_id,
                    ReviewRequest.number.in_(numbers),  # type: ignore[attr-defined]
                )
            ).all()
        )
        return [int(found[n]) for n in numbers]


def add_message(
    db: Database, workspace_id: int, request_id: int, *, at: datetime, **fields: Any
) -> None:
    """Insert one message row of a request."""
    _counter["token"] += 1
    values = {
        "workspace_id": workspace_id,
        "request_id": request_id,
        "kind": "initial",
        "channel": "sms",
        "to_address": "+33610000000",
        "status": "sent",
        "due_at": at,
        "token": f"tok-{_counter['token']}-{request_id}",
        "created_at": at,
        "updated_at": at,
        **fields,
    }
    with db.write() as session:
        session.execute(insert(Message), [values])
