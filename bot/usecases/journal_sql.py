"""The journal's statements of every send (claim, start sending, status refresh), built once.

Part of the journal (bot/usecases/journal.py): only these and the journal write a message's
status. Building a SQLAlchemy statement and computing its cache key costs more CPU than running
it, and these run for every message a worker sends (bench/profile_dispatch.py).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, update
from sqlmodel import col, select

from bot.domain.status import Status
from store.models import Message


def rows_moved(result: object) -> int:
    """Return how many rows a guarded update moved."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


STATUSES_OF = select(Message.status).where(col(Message.request_id) == bindparam("request_id"))
# Compare-and-set on the token and status checked: a worker that stalled past its lease while
# another re-claimed the message moves nothing, so sends nothing. The caller's copy of the row
# is not touched (it is done with it), hence no session synchronisation.
START_SENDING = (
    update(Message)
    .where(
        col(Message.status) == Status.CLAIMED.value,
        col(Message.claim_token) == bindparam("b_token"),
        col(Message.id) == bindparam("b_id"),
    )
    .values(
        status=Status.SENDING.value,
        body=bindparam("new_body"),
        subject=bindparam("new_subject"),
        segments=bindparam("new_segments"),
        lease_until=bindparam("new_lease"),
        updated_at=bindparam("now"),
    )
    .execution_options(synchronize_session=False)
)
CLAIM = (
    update(Message)
    .where(
        col(Message.id).in_(bindparam("b_ids", expanding=True)),
        col(Message.status) == Status.QUEUED.value,
    )
    .values(
        status=Status.CLAIMED.value,
        claim_token=bindparam("b_token"),
        lease_until=bindparam("b_lease"),
        updated_at=bindparam("now"),
    )
    .execution_options(synchronize_session=False)
)
