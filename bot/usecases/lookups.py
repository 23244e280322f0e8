"""Lookups: one request in detail, a customer found by email, phone or name, their history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlmodel import col, select

from bot.domain import contacts
from bot.domain.errors import InvalidInput, NotFound
from bot.domain.policy import WorkspacePolicy
from bot.domain.send_time import QuietWait, WindowWait, quiet_wait, window_wait
from bot.domain.status import Status
from bot.domain.typed_text import control_character_reason
from bot.usecases import loading
from bot.usecases.inputs import CustomerLookup, RequestDetail
from bot.usecases.pacing import paced_waits
from bot.usecases.services import UseCase
from store import contacts as contact_store
from store import queries
from store.models import Contact, Event, Message


class Lookups(UseCase):
    """Read requests and customers."""

    def show(self, workspace_id: int, number: int) -> RequestDetail:
        """Return a request with its messages and its event log."""
        with self.db.read() as session:
            request = loading.request(session, workspace_id, number, include_deleted=True)
            messages = loading.messages(session, request)
            events = list(
                session.exec(
                    select(Event).where(Event.request_id == request.id).order_by(col(Event.id))
                ).all()
            )
            contact = session.get(Contact, request.contact_id) if request.contact_id else None
            policy = loading.policy(session, workspace_id)
            paced = paced_waits(session, messages)
            now = self.clock.now()
            quiet = quiet_waits(messages, policy, now)
            window = window_waits(messages, policy, now)
            return RequestDetail(request, messages, events, contact, policy, paced, quiet, window)

    # --- one customer ------------------------------------------------------------------

    def find_customer(self, workspace_id: int, value: str) -> CustomerLookup:
        """Find a customer by email, phone (any usual form, read in the workspace region) or name.

        :raise InvalidInput: nothing was typed, a control character, or an email or phone number
            that can't be read.
        :raise NotFound: no customer matches.
        """
        text = " ".join((value or "").split())
        if not text:
            raise InvalidInput(
                "Say whom to show: an email address, a phone number or a name.", field="customer"
            )
        problem = control_character_reason(text)
        if problem:  # a NUL is refused by PostgreSQL: say so here, never a crash in the query
            raise InvalidInput(f"The customer to show {problem}.", field="customer")
        with self.db.read() as session:
            policy = loading.policy(session, workspace_id)
            region = policy.region or self.default_region
            if "@" in text:
                email = contacts.normalize_email(text)
                found = contact_store.contacts_by_email(session, workspace_id, email)
                missing = f"No customer has the address {email}."
            elif contacts.looks_like_phone(text):
                phone = contacts.normalize_phone(text, region, require_mobile=False)
                found = contact_store.contacts_by_phone(session, workspace_id, phone)
                missing = (
                    f"No customer has the number {contacts.format_phone_international(phone)}."
                )
            else:
                found = contact_store.contacts_by_name(session, workspace_id, text)
                missing = f"No customer is called “{text}”."
            if not found:
                raise NotFound(missing)
            if len(found) > 1:
                shown = found[: contact_store.MAX_CONTACT_CHOICES]
                return CustomerLookup(text, None, shown, more=len(found) > len(shown))
            assert found[0].id is not None
            history = queries.contact_history(session, workspace_id, found[0].id)
            assert history is not None
            return CustomerLookup(text, history, [])

    def customer(self, workspace_id: int, contact_id: int) -> queries.ContactHistory:
        """Return one customer of this workspace with their requests, messages and replies.

        :raise NotFound: no such customer here.
        """
        with self.db.read() as session:
            history = queries.contact_history(session, workspace_id, contact_id)
        if history is None:
            raise NotFound("That customer doesn't exist (any more).")
        return history


def quiet_waits(
    messages: list[Message], policy: WorkspacePolicy, now: datetime
) -> dict[int, QuietWait]:
    """The queued texts the recipient's local hours hold back, by message id."""
    found: dict[int, QuietWait] = {}
    for message_id, m, due in _queued(messages):
        held = quiet_wait(message_id, m.channel, m.to_address, due, now, policy)
        if held is not None:
            found[message_id] = held
    return found


def window_waits(
    messages: list[Message], policy: WorkspacePolicy, now: datetime
) -> dict[int, WindowWait]:
    """The queued messages the send window or a holiday holds back, by message id."""
    found: dict[int, WindowWait] = {}
    for message_id, _m, due in _queued(messages):
        held = window_wait(message_id, due, now, policy)
        if held is not None:
            found[message_id] = held
    return found


def _queued(messages: list[Message]) -> Iterator[tuple[int, Message, datetime]]:
    """The queued messages with their id and due time (UTC)."""
    for m in messages:
        if m.id is not None and m.status == Status.QUEUED.value:
            yield m.id, m, m.due_at if m.due_at.tzinfo else m.due_at.replace(tzinfo=UTC)
