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
# A message with its request and workspace (and, to hand it over, the customer); every read
# below holds the message row (FOR UPDATE OF message) until its transaction commits.
_WITH_REQUEST = (
    select(Message, ReviewRequest, Workspace)
    .join(ReviewRequest, col(ReviewRequest.id) == Message.request_id)
    .join(Workspace, col(Workspace.id) == ReviewRequest.workspace_id)
)
_WITH_CONTACT = (
    select(Message, ReviewRequest, Workspace, Contact)
    .join(ReviewRequest, col(ReviewRequest.id) == Message.request_id)
    .join(Workspace, col(Workspace.id) == ReviewRequest.workspace_id)
    .outerjoin(Contact, col(Contact.id) == ReviewRequest.contact_id)
)
_IN_BATCH = col(Message.id).in_(bindparam("message_ids", expanding=True))

HANDING_OVER = (
    # The message (still claimed by this token), its request, workspace and contact in one
    # query; the message row is held until the hand-over commits, so nothing re-claims or
    # reaps it in between.
    _WITH_CONTACT.where(
        col(Message.id) == bindparam("message_id"),
        col(Message.claim_token) == bindparam("token"),
        col(Message.status) == Status.CLAIMED.value,
    ).with_for_update(of=Message)
)
SENT_BY_ME = (
    # No reaper or report moves the message while its result is stored.
    _WITH_REQUEST.where(
        col(Message.id) == bindparam("message_id"), col(Message.claim_token) == bindparam("token")
    ).with_for_update(of=Message)
)
SENT_BY_ME_ALL = (
    # A batch's rows, their tokens checked by the caller.
    _WITH_REQUEST.where(_IN_BATCH).order_by(col(Message.id)).with_for_update(of=Message)
)
HANDING_OVER_ALL = (
    # A batch's messages, their tokens checked by the caller, each held until the batch commits.
    _WITH_CONTACT.where(_IN_BATCH, col(Message.status) == Status.CLAIMED.value)
    .order_by(col(Message.id))
    .with_for_update(of=Message)
)
