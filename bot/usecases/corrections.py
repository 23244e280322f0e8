"""Corrections: edit a request before it goes out, or delete its content for good."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.domain import contacts
from bot.domain.channels import METHOD_LABELS, PHONE_CHANNELS
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.policy_read import stored_policy
from bot.domain.status import PENDING, Status
from bot.usecases import loading
from bot.usecases.actors import Actor
from bot.usecases.audit import record_audit
from bot.usecases.creating import OptOuts, Plan, check_cooldown, opt_outs, upsert_contact
from bot.usecases.inputs import RequestEdit
from bot.usecases.journal import Journal
from bot.usecases.notifier import Change
from bot.usecases.services import UseCase
from store.models import Event, Message, ReviewRequest


class Corrections(UseCase):
    """Correct or erase requests."""

    def edit(
        self, workspace_id: int, number: int, data: RequestEdit, actor: Actor
    ) -> ReviewRequest:
        """Correct a request's name, contact or reference while nothing of it has gone out.

        The channels stay those chosen at creation; each waiting message follows the new
        address. Channel messages name the fields that changed, never their values.

        :raise NotAllowed: a message of it went out or is going out, or nothing is waiting.
        :raise InvalidInput: a field is wrong (``.errors`` names each); nothing changes.
        :raise Conflict: the new contact was invited within the cooldown, without override.
        """
        now = self.clock.now()
        with self.db.write() as session:
            request = loading.request(session, workspace_id, number)
            pending = _editable_messages(session, request)
            workspace = loading.workspace(session, workspace_id)
            policy = stored_policy(workspace.policy)
            region = policy.region or self.default_region
            values = _edited_values(request, data, region)
            key = self.journal.suppression_key
            opted = opt_outs(session, workspace_id, values["phone"], values["email"], key)
            errors = _edit_errors(pending, values["phone"], values["email"], opted)
            if errors:
                raise InvalidInput.many(errors)
            before = {
                "name": request.customer_name,
                "phone": request.phone,
                "email": request.email,
                "reference": request.reference,
            }
            changed = [k for k, v in values.items() if before[k] != v]
            if not changed:
                return request
            plan = Plan(
                values["name"] or "customer",
                values["phone"],
                values["email"],
                request.method,
                tuple(m.channel for m in pending),
                request.language,
                request.scheduled_at or now,
            )
            contact = upsert_contact(session, workspace_id, plan, now)
            if not data.override_cooldown and contact.id != request.contact_id:
                check_cooldown(session, workspace_id, contact, plan, policy, now)
            _readdress(session, request, pending, plan, values["reference"], contact.id, now)
            self.journal.record(session, request, "edited", actor, now, detail={"fields": changed})
            self.journal.notify(
                session,
                request,
                Change(
                    "edited", f"Edited by {actor.label}: {', '.join(changed)}", actor_id=actor.id
                ),
            )
            return request

    def editable(self, workspace_id: int, number: int) -> ReviewRequest:
        """Return a request that may still be edited.

        :raise NotAllowed: a message of it went out or is going out, or nothing is waiting.
        """
        with self.db.read() as session:
            request = loading.request(session, workspace_id, number)
            _editable_messages(session, request)
            return request

    def delete(self, workspace_id: int, number: int, actor: Actor) -> None:
        """Erase a request's content for good, keeping an audit event of who deleted it.

        Erased: the customer's name, phone, email and reference, every message's address,
        subject, body and provider text, the details of its events (the customer's replies
        among them) and what the Slack outbox kept of it. Kept: the number, dates, statuses and
        error codes, who did what when, and the link to the contact, whose opt-outs must outlive
        any request (a STOP or unsubscribe from an old message still has to count).

        :raise NotFound: no such request (or it was already deleted).
        :raise NotAllowed: a message is being handed to a provider right now.
        """
        now = self.clock.now()
        with self.db.write() as session:
            request = loading.request(session, workspace_id, number)
            erase_content(self.journal, session, request, now)
            request.deleted_at = now
            self.journal.record(session, request, "deleted", actor, now, detail={"number": number})
            record_audit(session, workspace_id, actor, "delete", now, target=f"#{number}")
            self.journal.notify(
                session, request, Change("deleted", f"Deleted by {actor.label}", actor_id=actor.id)
            )


def erase_content(
    journal: Journal, session: Session, request: ReviewRequest, now: datetime, name: str = "deleted"
) -> None:
    """Erase a request's personal data, cancel what waits of it, and what Slack was told of it.

    The one rule of a delete, a customer's erasure and the retention job. Kept: the number,
    dates, channel, statuses and error codes (so the counts stay), who did what when.

    :raise NotAllowed: a message is being handed to a provider right now.
    """
    messages = loading.messages(session, request)
    if any(m.status in (Status.CLAIMED, Status.SENDING) for m in messages):
        raise NotAllowed(f"#{request.number} is being sent right now; try again in a minute.")
    journal.cancel_waiting(session, messages, None, now)
    for message in messages:
        message.body = None
        message.subject = None
        message.to_address = ""
        # Provider texts quote the address ("The 'To' number +336... is not valid").
        message.error_reason = None
        message.updated_at = now
        session.add(message)
    for event in session.exec(select(Event).where(Event.request_id == request.id)).all():
        event.detail = {"actor_name": event.detail.get("actor_name", "")}
        session.add(event)
    request.customer_name = name
    request.phone = None
    request.email = None
    request.reference = None
    request.last_error = None
    journal.refresh(session, request, now)
    journal.forget(session, request)


def _readdress(
    session: Session,
    request: ReviewRequest,
    pending: list[Message],
    plan: Plan,
    reference: str | None,
    contact_id: int | None,
    now: datetime,
) -> None:
    """Point a request and its waiting messages at the corrected customer."""
    request.customer_name = plan.name
    request.phone = plan.phone
    request.email = plan.email
    request.reference = reference
    request.contact_id = contact_id
    request.updated_at = now
    session.add(request)
    for message in pending:
        to = plan.phone if message.channel in PHONE_CHANNELS else plan.email
        message.to_address = to or ""
        message.updated_at = now
        session.add(message)


def _editable_messages(session: Session, request: ReviewRequest) -> list[Message]:
    """Return the waiting messages of a request nothing of which has gone out yet."""
    messages = loading.messages(session, request)
    pending = [m for m in messages if Status(m.status) in PENDING]
    gone = [m for m in messages if m not in pending and m.status != Status.CANCELED.value]
    if not pending or gone:
        raise NotAllowed(
            f"#{request.number} has already gone out (or nothing of it is waiting), "
            "so it can't be edited any more."
        )
    return pending


def _edited_values(request: ReviewRequest, data: RequestEdit, region: str) -> dict[str, str | None]:
    """Return the request's fields after the edit, normalised; raise every field error at once."""
    errors: dict[str, str] = {}
    phone, email = request.phone, request.email
    if data.phone is not None:
        phone = None
        if data.phone.strip():
            try:
                phone = contacts.normalize_phone(data.phone, region, require_mobile=False)
            except InvalidInput as exc:
                errors["phone"] = exc.message
    if data.email is not None:
        email = None
        if data.email.strip():
            try:
                email = contacts.normalize_email(data.email)
            except InvalidInput as exc:
                errors["email"] = exc.message
    if errors:
        raise InvalidInput.many(errors)
    name = request.customer_name if data.name is None else contacts.normalize_name(data.name)
    reference = request.reference
    if data.reference is not None:
        reference = data.reference.strip() or None
    return {"name": name, "phone": phone, "email": email, "reference": reference}


def _edit_errors(
    pending: list[Message], phone: str | None, email: str | None, opted: OptOuts
) -> dict[str, str]:
    """Say, per field, why a waiting message could not go to the edited address."""
    errors: dict[str, str] = {}
    for channel in {m.channel for m in pending}:
        label = METHOD_LABELS.get(channel, channel)
        if channel in PHONE_CHANNELS:
            if phone is None:
                errors["phone"] = f"This request goes by {label}: it needs a phone number."
            elif not contacts.is_mobile(phone):
                errors["phone"] = contacts.not_mobile_reason(phone, label)
            elif opted.phone is not None:
                errors["phone"] = f"This number opted out on {opted.phone:%Y-%m-%d}."
        elif email is None:
            errors["email"] = "This request goes by email: it needs an email address."
        elif opted.email is not None:
            errors["email"] = f"This address unsubscribed on {opted.email:%Y-%m-%d}."
    return errors
