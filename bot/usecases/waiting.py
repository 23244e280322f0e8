"""Read what the journal acts on: messages waiting to go to an address or a contact, latest ones."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.domain.channels import PHONE_CHANNELS
from bot.domain.status import HANDED_OVER, PENDING
from store import contacts as contact_store
from store import replies as reply_store
from store.models import Contact, Message, ReviewRequest


def opted_out(contact: Contact, channel: str) -> bool:
    """Say whether a contact opted out of a channel (STOP covers SMS and WhatsApp)."""
    if channel in PHONE_CHANNELS:
        return contact.phone_opted_out_at is not None
    return contact.email_opted_out_at is not None


def waiting_to_address(
    session: Session,
    address: str,
    channels: Sequence[str],
    workspace_id: int | None = None,
    *,
    workspaces: Collection[int] | None = None,
) -> list[Message]:
    """Return the waiting messages to an address (any case), whatever contact they hang on."""
    if not address:
        return []
    query = select(Message).where(
        func.lower(col(Message.to_address)) == contact_store.fold_email(address)
        if "email" in channels
        else col(Message.to_address) == address,
        col(Message.channel).in_(list(channels)),
        col(Message.status).in_([s.value for s in PENDING]),
    )
    if workspace_id is not None:
        query = query.where(Message.workspace_id == workspace_id)
    if workspaces is not None:
        query = query.where(col(Message.workspace_id).in_(list(workspaces)))
    return list(session.exec(query).all())


def waiting_of_contact(
    session: Session, contact: Contact, channels: Sequence[str]
) -> list[Message]:
    """Return the waiting messages of a contact's requests on these channels."""
    return list(
        session.exec(
            select(Message)
            .join(ReviewRequest, col(Message.request_id) == col(ReviewRequest.id))
            .where(
                ReviewRequest.contact_id == contact.id,
                col(Message.channel).in_(list(channels)),
                col(Message.status).in_([s.value for s in PENDING]),
            )
        ).all()
    )


def latest_request_of(session: Session, contact: Contact) -> ReviewRequest | None:
    """Return a contact's newest request that was not deleted."""
    return session.exec(
        select(ReviewRequest)
        .where(ReviewRequest.contact_id == contact.id, col(ReviewRequest.deleted_at).is_(None))
        .order_by(col(ReviewRequest.created_at).desc(), col(ReviewRequest.id).desc())
        .limit(1)
    ).first()


def latest_handed_over(
    session: Session, request: ReviewRequest, channels: Sequence[str]
) -> Message | None:
    """Return a request's newest message on these channels that went to the provider."""
    return session.exec(
        select(Message)
        .where(
            Message.request_id == request.id,
            col(Message.channel).in_(list(channels)),
            col(Message.status).in_([s.value for s in HANDED_OVER]),
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    ).first()


def sender_scope(session: Session, message: Message) -> list[int]:
    """The workspaces a provider's "this number opted out" about `message` applies to.

    Twilio refuses a number (21610) for the sender it texted STOP to, so the opt-out holds in
    the workspaces that texted that number through the same sender (they share the operator's
    Twilio number or messaging service), the message's own always; never in a workspace
    that texts it through another sender (the same scope as an inbound STOP).
    """
    senders = [message.pace_key] if message.pace_key else []
    shared = reply_store.workspaces_that_sent(
        session, message.to_address, senders, [s.value for s in HANDED_OVER]
    )
    return sorted({message.workspace_id, *shared})
