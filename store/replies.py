"""Where a customer's text back belongs: the messages we handed to a provider for that number.

A reply comes from the customer's number (Twilio's `From`) to one of our senders (`To`, or
the messaging service it belongs to). It belongs only to a workspace that sent to that number
through that sender: matching on the customer's number alone would hand a workspace the
replies meant for another one sharing the operator's Twilio account.

Messages the console sender printed (no provider configured: development and tests) went out
through no number. A text matches them by the customer's number alone, and only when no
message went to that number through a real sender it came back to: a workspace cannot catch
another's replies by "sending" to the same number through the console.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from store.models import Message, ReviewRequest

# The channels a text can come back on.
TEXT_CHANNELS = ("sms", "whatsapp")
CONSOLE_PROVIDER = "console"  # bot.delivery.console's name


def _handed_over_to(
    phone: str, statuses: Collection[str], senders: Collection[str] | None
) -> list[ColumnElement[bool]]:
    """A message handed to the provider for `phone` through `senders` (None: the console)."""
    through = (
        col(Message.provider) == CONSOLE_PROVIDER
        if senders is None
        else col(Message.pace_key).in_(list(senders))  # the sender it went out through
    )
    return [
        col(Message.to_address) == phone,
        through,
        col(Message.provider_id).is_not(None),  # the provider took it
        col(Message.channel).in_(TEXT_CHANNELS),
        col(Message.status).in_(list(statuses)),
    ]


def _through(senders: Collection[str]) -> list[Collection[str] | None]:
    # Real senders first; the console only when none of them sent to the number.
    return [senders, None] if senders else [None]


def latest_handed_over(
    session: Session, phone: str, senders: Collection[str], statuses: Collection[str]
) -> tuple[Message, ReviewRequest] | None:
    """Return the newest message handed over to `phone` through `senders`, with its request.

    Deleted requests are skipped: their team asked to keep nothing more about them.
    """
    if not phone:
        return None
    for through in _through(senders):
        row = session.exec(
            select(Message, ReviewRequest)
            .join(ReviewRequest, col(ReviewRequest.id) == col(Message.request_id))
            .where(*_handed_over_to(phone, statuses, through))
            .where(col(ReviewRequest.deleted_at).is_(None))
            .order_by(
                func.coalesce(Message.sent_at, Message.created_at).desc(), col(Message.id).desc()
            )
            .limit(1)
        ).first()
        if row is not None:
            return row[0], row[1]
    return None


def workspaces_that_sent(
    session: Session, phone: str, senders: Collection[str], statuses: Collection[str]
) -> list[int]:
    """Return the workspaces that handed a message to `phone` through one of `senders`."""
    if not phone:
        return []
    for through in _through(senders):
        rows = session.exec(
            select(Message.workspace_id)
            .where(*_handed_over_to(phone, statuses, through))
            .distinct()
            .order_by(col(Message.workspace_id))
        ).all()
        if rows:
            return list(rows)
    return []
