"""What follows a send by itself: a reminder while the customer has not acted, the fallback email."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.domain.channels import PHONE_CHANNELS
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_read import stored_policy
from bot.domain.quiet_hours import NeverReachable
from bot.domain.send_time import earliest_send
from bot.domain.status import PENDING, REMINDER_STOPS, Status
from bot.usecases.actors import SYSTEM
from bot.usecases.journal import Journal
from bot.usecases.notifier import Change
from bot.usecases.waiting import opted_out
from store.models import Contact, Message, ReviewRequest, Workspace

# A customer's action on any message of a request: no reminder follows it.
_ACTED = tuple(REMINDER_STOPS)


def workspace_policy(session: Session, workspace_id: int) -> WorkspacePolicy:
    """Return a workspace's validated settings."""
    workspace = session.get(Workspace, workspace_id)
    assert workspace is not None
    return stored_policy(workspace.policy)


def fall_back_to_email(
    journal: Journal, session: Session, request: ReviewRequest, failed: Message, now: datetime
) -> Message | None:
    """Queue the email once when an SMS of an "SMS, else email" request fails or is undelivered."""
    if request.method != "sms_or_email" or failed.channel != "sms" or not request.email:
        return None
    if request.deleted_at is not None:
        return None
    if not workspace_policy(session, request.workspace_id).fallback_email:
        return None
    messages = session.exec(select(Message).where(Message.request_id == request.id)).all()
    if any(m.kind == "fallback" for m in messages):
        return None
    contact = session.get(Contact, request.contact_id) if request.contact_id else None
    if contact is not None and opted_out(contact, "email"):
        return None
    fallback = journal.add_message(session, request, "email", "fallback", now, now)
    # "Sent via" (list, filters, export, stats) now tells both channels it went by.
    if "email" not in request.channel.split("+"):
        request.channel = f"{request.channel}+email"
    journal.refresh(session, request, now)
    journal.record(session, request, "fallback", SYSTEM, now, message=fallback)
    journal.notify(session, request, Change("fallback", "SMS failed: falling back to email"))
    return fallback


def schedule_reminder(
    journal: Journal, session: Session, request: ReviewRequest, sent: Message, now: datetime
) -> Message | None:
    """Queue the next reminder after a send, while the customer has not acted."""
    policy = workspace_policy(session, request.workspace_id)
    if policy.reminders <= 0 or request.clicked_at is not None:
        return None
    messages = session.exec(select(Message).where(Message.request_id == request.id)).all()
    reminders = [m for m in messages if m.kind == "reminder"]
    if len(reminders) >= policy.reminders or any(m.status in PENDING for m in reminders):
        return None
    if any(m.status in _ACTED for m in messages):
        return None
    channel = _reminder_channel(policy.reminder_channel, request, sent)
    contact = session.get(Contact, request.contact_id) if request.contact_id else None
    if contact is not None and opted_out(contact, channel):
        return None
    wanted = now + timedelta(days=policy.reminder_interval_days)
    try:
        due = earliest_send(wanted, policy, channel, request.phone)
    except NeverReachable:  # never inside the recipient's hours: failed with why when due
        due = earliest_send(wanted, policy, None, None)
    reminder = journal.add_message(session, request, channel, "reminder", due, now)
    detail = {"due_at": due.isoformat()}
    journal.record(
        session, request, "reminder_scheduled", SYSTEM, now, message=reminder, detail=detail
    )
    return reminder


def reminder_stop(
    session: Session, message: Message, request: ReviewRequest, contact: Contact | None
) -> str | None:
    """Say why a reminder must not go out (clicked, opted out anywhere, complained), or None."""
    if message.kind != "reminder":
        return None
    if request.clicked_at is not None:
        return REMINDER_STOPS[Status.CLICKED]
    if contact is not None and (contact.phone_opted_out_at or contact.email_opted_out_at):
        return "The customer opted out"
    acted = session.exec(
        select(Message.id).where(
            Message.request_id == request.id,
            col(Message.status).in_([s.value for s in _ACTED]),
        )
    ).first()
    return "The customer already acted on this request" if acted is not None else None


def _reminder_channel(setting: str, request: ReviewRequest, sent: Message) -> str:
    """Pick a reminder's channel: by default email for SMS-and-email requests, else the same."""
    if setting == "auto":
        wanted = "email" if request.method == "sms_and_email" else sent.channel
    else:
        wanted = setting
    if wanted == "email" and request.email:
        return "email"
    if wanted in PHONE_CHANNELS and request.phone:
        return wanted
    return sent.channel
