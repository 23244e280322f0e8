"""The journal: the one place that changes a message's or a request's status or a contact's opt-outs.

Every use-case (creating, lifecycle, corrections, the dispatcher, feedback, reminders) changes
state here, in its own transaction: statuses move monotonically (bot.domain.status.advance), a
stored error is never cleared, the request's status is recomputed from its messages, and the
change is recorded as an event and told to the team through the Notifier.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.domain.channels import PHONE_CHANNELS
from bot.domain.status import PENDING, REMINDER_STOPS, Status, advance, keep_error
from bot.usecases import journal_sql as sql
from bot.usecases import waiting
from bot.usecases.actors import CUSTOMER, SYSTEM, Actor
from bot.usecases.journal_sql import refresh_status
from bot.usecases.notifier import Change, Notifier
from bot.usecases.reasons import stored_reason
from store import contacts as contact_store
from store.models import Contact, Event, Message, ReviewRequest
from store.suppressions import SuppressionKey


class Journal:
    """Change messages, requests and opt-outs inside the caller's transaction; record and tell."""

    def __init__(self, notifier: Notifier, suppression_key: SuppressionKey | None = None) -> None:
        self.notifier = notifier
        self.suppression_key = suppression_key or SuppressionKey()

    # --- writing down -----------------------------------------------------------------------

    def record(
        self,
        session: Session,
        request: ReviewRequest,
        kind: str,
        actor: Actor,
        now: datetime,
        *,
        message: Message | None = None,
        detail: dict[str, Any] | None = None,
        dedup_key: str | None = None,
    ) -> None:
        """Append an event to the request's log (held for one insert in `events_together`)."""
        row = {
            "workspace_id": request.workspace_id,
            "request_id": request.id,
            "message_id": message.id if message else None,
            "kind": kind,
            "actor": actor.id,
            "at": now,
            "detail": {"actor_name": actor.name, **(detail or {})},
            "dedup_key": dedup_key,
        }
        held = sql.held_events(session)
        if held is not None:
            held.append(row)
        else:
            session.add(Event(**row))

    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        """Tell the team about a change (an outbox row written in this transaction)."""
        self.notifier.notify(session, request, change)

    def forget(self, session: Session, request: ReviewRequest) -> None:
        """Erase what was kept to tell the team about a deleted request."""
        self.notifier.forget(session, request)

    refresh = staticmethod(refresh_status)
    statuses_read_ahead = staticmethod(sql.statuses_read_ahead)
    events_together = staticmethod(sql.events_together)

    # --- requests and messages --------------------------------------------------------------

    def open_request(self, session: Session, request: ReviewRequest) -> None:
        """Store a new request; its messages are added next and it shows as queued."""
        request.status = Status.QUEUED.value
        session.add(request)
        session.flush()

    open_many = staticmethod(sql.open_many)  # a CSV import's batch of new requests

    def add_message(
        self,
        session: Session,
        request: ReviewRequest,
        channel: str,
        kind: str,
        due_at: datetime,
        now: datetime,
    ) -> Message:
        """Queue a new message of a request to the request's address for that channel."""
        assert request.id is not None
        to = request.email if channel == "email" else request.phone
        message = Message(
            workspace_id=request.workspace_id,
            request_id=request.id,
            kind=kind,
            channel=channel,
            to_address=to or "",
            status=Status.QUEUED.value,
            due_at=due_at,
            token=secrets.token_urlsafe(18),
            created_at=now,
            updated_at=now,
        )
        session.add(message)
        session.flush()
        return message

    def wait(
        self,
        session: Session,
        messages: Sequence[Message],
        status: Status,
        now: datetime,
        *,
        due_at: datetime | None = None,
    ) -> None:
        """Put messages back to waiting (queued or paused), at a new due time if given."""
        assert status in PENDING
        for message in messages:
            message.status = status.value
            if due_at is not None:
                message.due_at = due_at
            message.claim_token = None
            message.lease_until = None
            message.updated_at = now
            session.add(message)

    def cancel_waiting(
        self, session: Session, messages: Sequence[Message], reason: str | None, now: datetime
    ) -> list[Message]:
        """Cancel the messages that are still waiting (or claimed); return those canceled."""
        canceled = []
        for message in messages:
            if message.status not in PENDING and message.status != Status.CLAIMED:
                continue
            message.status = Status.CANCELED.value
            message.error_reason = keep_error(message.error_reason, stored_reason(reason))
            message.claim_token = None
            message.updated_at = now
            session.add(message)
            canceled.append(message)
        return canceled

    def advance(
        self,
        session: Session,
        message: Message,
        status: Status,
        now: datetime,
        *,
        error_code: str | None = None,
        reason: str | None = None,
    ) -> Status:
        """Move a message on to a reported status (never backwards); keep its first error."""
        after = advance(Status(message.status), status)
        message.status = after.value
        message.error_code = keep_error(message.error_code, error_code)
        message.error_reason = keep_error(message.error_reason, stored_reason(reason))
        message.updated_at = now
        session.add(message)
        return after

    def mark_sent(self, session: Session, message: Message, now: datetime) -> None:
        """Record a person's decision that a message in doubt did go out."""
        self.advance(session, message, Status.SENT, now)
        message.sent_at = message.sent_at or now

    # --- the dispatcher's hand-over ---------------------------------------------------------

    def claim(
        self, session: Session, ids: Sequence[int], token: str, now: datetime, lease: datetime
    ) -> None:
        """Mark due queued messages as claimed by one worker, under its token."""
        params = {"b_ids": list(ids), "b_token": token, "b_lease": lease, "now": now}
        session.execute(sql.CLAIM, params)

    def release_expired_claims(self, session: Session, now: datetime) -> int:
        """Give back the claims whose lease expired before the hand-over; return how many."""
        # Rows a worker holds (locked in its hand-over) are skipped, and the move re-checks them.
        expired = (col(Message.status) == Status.CLAIMED.value, col(Message.lease_until) < now)
        held_by_nobody = select(Message.id).where(*expired).with_for_update(skip_locked=True)
        result = session.execute(
            update(Message)
            .where(col(Message.id).in_(held_by_nobody.scalar_subquery()), *expired)
            .values(status=Status.QUEUED.value, claim_token=None, lease_until=None, updated_at=now)
        )
        return sql.rows_moved(result)

    def start_sending(
        self, session: Session, starts: Sequence[sql.Start], now: datetime, lease: datetime
    ) -> list[bool]:
        """Move claimed messages to `sending` (committed before any call) in one statement;
        say which moved (False: it lost its claim).

        :raise StartLost: in a batch, fewer moved than were given (undo it, start each alone).
        """
        session.flush()  # what this transaction changed first, as an autoflush would
        params = [sql.start_params(s, lease, now) for s in starts]
        if not params:
            return []
        # Core, one executemany: the ORM's per-statement work cost more than the UPDATE.
        moved = sql.rows_moved(session.connection().execute(sql.START_SENDING, params))
        if len(params) == 1:
            return [moved == 1]
        if moved != len(params):
            raise sql.StartLost(f"{moved} of {len(params)} claimed messages moved to sending")
        return [True] * len(params)

    # --- opt-outs: one rule whoever learns of it --------------------------------------------

    def opt_out_phone(
        self,
        session: Session,
        phone: str,
        reason: str,
        now: datetime,
        *,
        dedup_key: str | None = None,
        keyword: str = "STOP",
        workspaces: Collection[int] | None = None,
    ) -> bool:
        """Opt a number out of SMS and WhatsApp everywhere (or in `workspaces`); cancel what waits.

        One rule for an inbound STOP, a Twilio status or send refusing the number, and an
        unsubscribe from a phone message. Return False when no contact or message has it.
        """
        contacts = contact_store.contacts_with_phone_anywhere(session, phone, workspaces)
        # Rows queued to this number under any contact (a request's phone may differ): none go.
        stray = waiting.waiting_to_address(session, phone, PHONE_CHANNELS, workspaces=workspaces)
        if not contacts and not stray:
            return False
        key = dedup_key
        for contact in contacts:
            newly = contact.phone_opted_out_at is None
            if newly:
                contact.phone_opted_out_at = now
                session.add(contact)
            self._cancel_for_opt_out(session, contact, PHONE_CHANNELS, reason, now)
            if newly and self._told_opted_out(session, contact, reason, now, keyword, key):
                key = None
        for message in stray:
            if message.status in PENDING:  # not already canceled above
                self._cancel_one(session, message, reason, now, CUSTOMER)
        return True

    def _told_opted_out(
        self,
        session: Session,
        contact: Contact,
        reason: str,
        now: datetime,
        keyword: str,
        dedup_key: str | None,
    ) -> bool:
        """Mark the contact's latest phone message unsubscribed, record and tell; False if none."""
        request = waiting.latest_request_of(session, contact)
        if request is None:
            return False
        last = waiting.latest_handed_over(session, request, PHONE_CHANNELS)
        if last is not None:
            self.advance(session, last, Status.UNSUBSCRIBED, now, reason=reason)
        # Reminders by email too: the customer asked to hear no more about this.
        self.cancel_reminders(session, request, now, Status.UNSUBSCRIBED)
        refresh_status(session, request, now)
        detail = {"channels": list(PHONE_CHANNELS), "keyword": keyword, "reason": reason}
        keys: dict[str, Any] = {"message": last, "detail": detail, "dedup_key": dedup_key}
        self.record(session, request, "opted_out", CUSTOMER, now, **keys)
        text = f"{request.customer_name} opted out of SMS and WhatsApp ({reason})"
        self.notify(session, request, Change("opted_out", text, alert=True))
        return True

    def opt_in_phone(
        self,
        session: Session,
        phone: str,
        keyword: str,
        now: datetime,
        *,
        dedup_key: str | None,
        workspaces: Collection[int] | None = None,
    ) -> bool:
        """Let a number receive SMS and WhatsApp again (START), an erased customer's too."""
        lifted = self.suppression_key.lift_phone(session, phone, workspaces, keyword, now)
        contacts = contact_store.contacts_with_phone_anywhere(session, phone, workspaces)
        key = dedup_key
        for contact in contacts:
            if contact.phone_opted_out_at is None:
                continue
            contact.phone_opted_out_at = None
            session.add(contact)
            request = waiting.latest_request_of(session, contact)
            if request is None:
                continue
            detail = {"channels": list(PHONE_CHANNELS), "keyword": keyword}
            self.record(session, request, "opted_in", CUSTOMER, now, detail=detail, dedup_key=key)
            key = None
            text = f"{request.customer_name} replied {keyword}: SMS allowed again"
            self.notify(session, request, Change("opted_in", text))
        return bool(contacts) or lifted

    def opt_out_email(
        self,
        session: Session,
        workspace_id: int,
        address: str,
        reason: str,
        now: datetime,
        actor: Actor,
        *,
        own_contact_id: int | None = None,
    ) -> None:
        """Opt an address (any case) out of email in a workspace; cancel what waits to go to it."""
        contacts = (
            contact_store.contacts_by_email(session, workspace_id, address) if address else []
        )
        if own_contact_id and all(c.id != own_contact_id for c in contacts):
            # A deleted request's message has no address left: its contact still opts out.
            own = session.get(Contact, own_contact_id)
            if own is not None and address and contact_store.same_email(own.email, address):
                contacts.append(own)
        for contact in contacts:
            if contact.email_opted_out_at is None:
                contact.email_opted_out_at = now
                session.add(contact)
            self._cancel_for_opt_out(session, contact, ["email"], reason, now, actor)
        stray = waiting.waiting_to_address(session, address, ["email"], workspace_id)
        for message in stray:
            self._cancel_one(session, message, reason, now, actor)

    def _cancel_for_opt_out(
        self,
        session: Session,
        contact: Contact,
        channels: Sequence[str],
        reason: str,
        now: datetime,
        actor: Actor = CUSTOMER,
    ) -> None:
        """Cancel every waiting message of an opted-out contact on these channels."""
        queued = waiting.waiting_of_contact(session, contact, channels)
        touched: dict[int, ReviewRequest] = {}
        for message in self.cancel_waiting(session, queued, reason, now):
            if (request := session.get(ReviewRequest, message.request_id)) is not None:
                touched[message.request_id] = request
        for request in touched.values():
            refresh_status(session, request, now)
            self.record(session, request, "canceled", actor, now, detail={"reason": reason})
            self.notify(session, request, Change("canceled", f"Canceled: {reason}"))

    def _cancel_one(
        self, session: Session, message: Message, reason: str, now: datetime, actor: Actor
    ) -> None:
        self.cancel_waiting(session, [message], reason, now)
        request = session.get(ReviewRequest, message.request_id)
        if request is None:
            return
        refresh_status(session, request, now)
        detail = {"reason": reason}
        self.record(session, request, "canceled", actor, now, message=message, detail=detail)
        self.notify(session, request, Change("canceled", f"Canceled: {reason}"))

    # --- reminders --------------------------------------------------------------------------

    def cancel_reminders(
        self, session: Session, request: ReviewRequest, now: datetime, why: Status
    ) -> None:
        """Cancel a request's waiting reminders: the customer clicked, opted out or complained."""
        waiting = session.exec(
            select(Message).where(
                Message.request_id == request.id,
                Message.kind == "reminder",
                col(Message.status).in_([s.value for s in PENDING]),
            )
        ).all()
        canceled = self.cancel_waiting(session, waiting, REMINDER_STOPS[why], now)
        kind, detail = "reminder_canceled", {"reason": why.value}
        for message in canceled:
            self.record(session, request, kind, SYSTEM, now, message=message, detail=detail)
        if canceled:
            refresh_status(session, request, now)
