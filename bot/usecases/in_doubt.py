"""Sends whose outcome is not known: recorded as `unknown`, never sent again by themselves.

A message that reached `sending` may have reached the provider; when its answer is lost (a
timeout, a dead worker whose sending lease expired), it becomes `unknown` and waits for a
reconciliation or a person's decision ("Mark as sent" / "Send again").
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlmodel import Session, col, select

from bot.domain.status import Status, can_advance
from bot.usecases import event_log
from bot.usecases.actors import SYSTEM, Actor
from bot.usecases.journal import Journal
from bot.usecases.notifier import Change
from store.db import Database
from store.models import Message, ReviewRequest, Workspace


class InDoubt(NamedTuple):
    error_reason: str | None  # kept on the message
    logged: str | None  # the event's reason
    told: str  # what the team is told


WORKER_STOPPED = InDoubt(
    "The worker stopped while sending",
    "lease expired while sending",
    "A worker stopped while sending: the message may or may not have gone out. "
    "It will not be sent again automatically.",
)


def mark_unknown(
    journal: Journal,
    session: Session,
    message: Message,
    request: ReviewRequest,
    why: InDoubt,
    actor: Actor,
    now: datetime,
) -> None:
    """Record that a message may or may not have gone out; it is never sent again by itself."""
    if not can_advance(Status(message.status), Status.UNKNOWN):
        return  # a report already settled it (sent, delivered, failed): nothing is in doubt
    journal.advance(session, message, Status.UNKNOWN, now, reason=why.error_reason)
    journal.refresh(session, request, now)
    detail = {"reason": why.logged}
    journal.record(session, request, "unknown", actor, now, message=message, detail=detail)
    journal.notify(session, request, Change("unknown", why.told, alert=True, message_id=message.id))


def reap_expired(journal: Journal, db: Database, now: datetime) -> tuple[int, int]:
    """Give back expired claims; turn expired sends into `unknown`. Return both counts."""
    lost: list[tuple[int, str, Message]] = []
    with db.write() as session:
        released = journal.release_expired_claims(session, now)
        stuck = session.exec(
            select(Message)
            .where(Message.status == Status.SENDING.value, col(Message.lease_until) < now)
            # Locked, so a second reaper (or a report) never acts on a row already taken.
            .with_for_update(skip_locked=True)
        ).all()
        for message in stuck:
            # It may have reached the provider before the worker died: never resend.
            request = session.get(ReviewRequest, message.request_id)
            assert request is not None
            mark_unknown(journal, session, message, request, WORKER_STOPPED, SYSTEM, now)
            workspace = session.get(Workspace, message.workspace_id)
            lost.append((request.number, workspace.team_id if workspace else "?", message))
    for number, team, message in lost:
        event_log.marked_unknown(
            number=number,
            workspace=team,
            channel=message.channel,
            to=message.to_address,
            why=str(WORKER_STOPPED.logged),
        )
    return released, len(stuck)
