"""Load what a request use-case acts on, inside its transaction; say why nothing waits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from bot.domain.errors import NotFound
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_read import stored_policy
from bot.domain.status import PENDING, Status, request_status
from store.models import Message, ReviewRequest, Workspace


def workspace(session: Session, workspace_id: int) -> Workspace:
    """Return a workspace.

    :raise NotFound: no such workspace.
    """
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("That workspace doesn't exist.")
    return workspace


# Built once, so their cache keys are too: every button and command reads with them, and
# building a statement cost more CPU than running it (py-spy of `serve`: a click on a card).
_STORED_SETTINGS = select(Workspace.policy).where(col(Workspace.id) == bindparam("workspace_id"))
_REQUEST_NUMBERED = select(ReviewRequest).where(
    col(ReviewRequest.workspace_id) == bindparam("workspace_id"),
    col(ReviewRequest.number) == bindparam("number"),
)
_MESSAGES_OF = (
    select(Message)
    .where(col(Message.request_id) == bindparam("request_id"))
    .order_by(col(Message.id))
)


def policy(session: Session, workspace_id: int) -> WorkspacePolicy:
    """Return a workspace's settings, validated, without loading the rest of its row.

    :raise NotFound: no such workspace.
    """
    found = session.execute(_STORED_SETTINGS, {"workspace_id": workspace_id}).first()
    if found is None:
        raise NotFound("That workspace doesn't exist.")
    stored: dict[str, Any] = found[0]
    return stored_policy(stored)


def request(
    session: Session, workspace_id: int, number: int, *, include_deleted: bool = False
) -> ReviewRequest:
    """Return a workspace's request by its number.

    :raise NotFound: no such request (or it was deleted and deleted ones are not wanted).
    """
    params = {"workspace_id": workspace_id, "number": number}
    found = session.exec(_REQUEST_NUMBERED, params=params).first()
    if found is None or (found.deleted_at is not None and not include_deleted):
        raise NotFound(f"There is no request #{number}.")
    return found


def messages(session: Session, request: ReviewRequest) -> list[Message]:
    """Return a request's messages, oldest first."""
    return list(session.exec(_MESSAGES_OF, params={"request_id": request.id}).all())


def pending_messages(session: Session, request: ReviewRequest) -> list[Message]:
    """Return a request's messages still waiting (queued or paused)."""
    return [m for m in messages(session, request) if m.status in PENDING]


def why_not(session: Session, request: ReviewRequest, verb: str) -> str:
    """Explain why a request has nothing waiting for this action."""
    statuses = {Status(m.status) for m in messages(session, request)}
    number = request.number
    if statuses & {Status.CLAIMED, Status.SENDING}:
        return f"#{number} is being sent right now, so it can't be {verb}."
    if verb == "paused" and Status.PAUSED in statuses:
        return f"#{number} is already paused."
    shown = request_status(statuses) if statuses else Status.CANCELED
    if shown is Status.CANCELED:
        return f"#{number} is already canceled."
    if shown in (Status.FAILED, Status.UNDELIVERED):
        return f"#{number} already {shown.value}, so it can't be {verb}."
    return f"#{number} was already sent, so it can't be {verb}."
