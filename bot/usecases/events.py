"""The Notifier port for outbound events: each change becomes an `event_outbox` row, in the
caller's transaction, where the workspace has an events URL (scheduler/events.py posts them).

The payload is built from the request's and the message's data, never from the Slack text:

    {"id": "evt_...", "type": "request.sent", "timestamp": "2026-11-23T10:00:00Z",
     "data": {"workspace": "T0123", "request": {...}, "message": {...} | null}}

No name, phone or email leaves with an event: a CRM knows its customer by the request's
`reference` (its own order or customer id), so nothing personal is kept in the outbox either.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.clock import Clock
from bot.domain.events import event_type
from bot.domain.policy_read import stored_policy
from bot.usecases.notifier import Change
from store.integration_models import EventOutbox
from store.models import Message, ReviewRequest, Workspace

EVENT_ID_PREFIX = "evt_"


def new_event_id() -> str:
    """Return a fresh event id (the `webhook-id` header; the receiver's de-duplication key)."""
    return EVENT_ID_PREFIX + secrets.token_urlsafe(18)


def timestamp(when: datetime) -> str:
    """Write a time as the events do: UTC, ISO 8601, seconds, with a Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class EventNotifier:
    """Write outbound event rows for a request's changes, in the caller's transaction."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        """Queue the change's event when the workspace takes events and the change is one."""
        kind = event_type(change.kind)
        if kind is None:
            return
        workspace = session.get(Workspace, request.workspace_id)
        if workspace is None or not stored_policy(workspace.policy).events_url:
            return  # no URL: nothing is written
        message = session.get(Message, change.message_id) if change.message_id else None
        now = self.clock.now()
        event_id = new_event_id()
        payload = {
            "id": event_id,
            "type": kind,
            "timestamp": timestamp(now),
            "data": {
                "workspace": workspace.team_id,
                "request": request_data(request),
                "message": message_data(message) if message is not None else None,
                "actor": change.actor_id,
            },
        }
        session.add(
            EventOutbox(
                workspace_id=request.workspace_id,
                request_id=request.id,
                event_id=event_id,
                type=kind,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
        )
        # Ids now: the outbox's id order is the order of the changes.
        session.flush()

    def forget(self, session: Session, request: ReviewRequest) -> None:
        """Drop the reference (the only customer-given text) from the request's queued events."""
        rows = session.exec(select(EventOutbox).where(EventOutbox.request_id == request.id)).all()
        for row in rows:
            data = dict(row.payload.get("data") or {})
            data["request"] = {**(data.get("request") or {}), "reference": None}
            row.payload = {**row.payload, "data": data}
            session.add(row)
        session.flush()


def request_data(request: ReviewRequest) -> dict[str, Any]:
    """Return what an event says of a request (no personal data)."""
    return {
        "number": request.number,
        "reference": request.reference,
        "status": request.status,
        "channel": request.channel,
        "review_type": request.review_type,
        "created_at": timestamp(request.created_at),
        "sent_at": timestamp(request.sent_at) if request.sent_at else None,
    }


def message_data(message: Message) -> dict[str, Any]:
    """Return what an event says of the message it is about (no address, no text)."""
    return {
        "kind": message.kind,
        "channel": message.channel,
        "status": message.status,
        "provider": message.provider,
        "provider_id": message.provider_id,
        "error_code": message.error_code,
    }
