"""The dispatcher's reads of every send (due messages, the hand-over, the result), built once.

Building a SQLAlchemy statement and computing its cache key costs more CPU than running it;
these run for every message a worker sends (bench/profile_dispatch.py shows where the time
goes), so they are module constants with bound parameters.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func
from sqlmodel import col, select

from bot.domain.status import Status
from store.models import Contact, Message, ReviewRequest, Workspace

DUE = (
    select(Message.id)
    .where(col(Message.status) == Status.QUEUED.value, col(Message.due_at) <= bindparam("now"))
    .order_by(col(Message.due_at), col(Message.id))
    .limit(bindparam("limit"))
)
DUE_LOCKED = DUE.with_for_update(skip_locked=True)
NEXT_DUE = select(func.min(col(Message.due_at))).where(col(Message.status) == Status.QUEUED.value)
HANDING_OVER = (
    # The message (still claimed by this token), its request, workspace and contact in one
    # query; the message row is held until the hand-over commits, so nothing re-claims or
    # reaps it in between.
    select(Message, ReviewRequest, Workspace, Contact)
    .join(ReviewRequest, col(ReviewRequest.id) == Message.request_id)
    .join(Workspace, col(Workspace.id) == ReviewRequest.workspace_id)
    .outerjoin(Contact, col(Contact.id) == ReviewRequest.contact_id)
    .where(
        col(Message.id) == bindparam("message_id"),
        col(Message.claim_token) == bindparam("token"),
        col(Message.status) == Status.CLAIMED.value,
    )
    .with_for_update(of=Message)
)
SENT_BY_ME = (
    # No reaper or report moves the message while its result is stored.
    select(Message, ReviewRequest, Workspace)
    .join(ReviewRequest, col(ReviewRequest.id) == Message.request_id)
    .join(Workspace, col(Workspace.id) == ReviewRequest.workspace_id)
    .where(
        col(Message.id) == bindparam("message_id"), col(Message.claim_token) == bindparam("token")
    )
    .with_for_update(of=Message)
)
