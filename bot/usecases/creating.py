"""Creating a request: plan (channels, due time), contact, cooldown, number, first messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.domain import contacts
from bot.domain.channels import METHOD_LABELS, PHONE_CHANNELS
from bot.domain.errors import Conflict, InvalidInput
from bot.domain.policy import WorkspacePolicy, stored_policy
from bot.domain.send_time import earliest_send
from bot.domain.status import Status
from bot.domain.timing import parse_delay
from bot.usecases import loading, once
from bot.usecases.actors import Actor
from bot.usecases.audit import origin_of
from bot.usecases.inputs import RequestCreate
from bot.usecases.notifier import Change
from bot.usecases.services import UseCase
from store import contacts as contact_store
from store import suppressions
from store.models import Contact, ReviewRequest, Workspace
from store.suppressions import SuppressionKey


class Creating(UseCase):
    """Validate and store new review requests."""

    def create(
        self, workspace_id: int, data: RequestCreate, actor: Actor, *, key: str | None = None
    ) -> ReviewRequest:
        """Validate and store a new request with its first message(s).

        `key` names the delivery it comes from (bot/usecases/once.py): one request per key.

        :raise InvalidInput: a field is wrong (``.field`` names it); nothing is stored.
        :raise Conflict: the contact was invited within the cooldown and no override was given.
        :raise AlreadyCreated: a request was already created under `key`; nothing is stored.
        """
        now = self.clock.now()
        with self.db.write() as session:
            once.claim(session, workspace_id, key, now)
            workspace = loading.workspace(session, workspace_id)
            policy = stored_policy(workspace.policy)
            plan = self._plan(session, workspace_id, policy, data, now)
            contact = upsert_contact(session, workspace_id, plan, now)
            if not data.override_cooldown:
                check_cooldown(session, workspace_id, contact, plan, policy, now)
            number = allocate_number(session, workspace_id)
            request = ReviewRequest(
                workspace_id=workspace_id,
                number=number,
                contact_id=contact.id,
                customer_name=plan.name,
                phone=plan.phone,
                email=plan.email,
                language=plan.language,
                method=plan.method,
                channel="+".join(plan.channels),
                review_type=data.review_type,
                reference=(data.reference or "").strip() or None,
                created_by=actor.id,
                created_by_name=actor.name,
                created_at=now,
                updated_at=now,
                scheduled_at=plan.due_at,
                origin_channel=data.origin_channel,
                **consent_record(data, actor, now),
            )
            self.journal.open_request(session, request)
            once.record(session, workspace_id, key, request)
            for channel in plan.channels:
                self.journal.add_message(
                    session, request, channel, "initial", plan.due_for(channel), now
                )
            self._record_created(session, request, plan, data, actor, now)
        if plan.due_at <= now:
            self.wake()
        return request

    def _record_created(
        self,
        session: Session,
        request: ReviewRequest,
        plan: Plan,
        data: RequestCreate,
        actor: Actor,
        now: datetime,
    ) -> None:
        """Record the request's creation and tell the Notifier (in the creating transaction)."""
        self.journal.record(
            session,
            request,
            "created",
            actor,
            now,
            detail={
                "method": plan.method,
                "channels": list(plan.channels),
                "due_at": plan.due_at.isoformat(),
                "cooldown_overridden": data.override_cooldown,
            },
        )
        self.journal.notify(
            session,
            request,
            Change("created", f"Requested by {actor.label}", actor_id=actor.id),
        )

    def _plan(
        self,
        session: Session,
        workspace_id: int,
        policy: WorkspacePolicy,
        data: RequestCreate,
        now: datetime,
    ) -> Plan:
        require_consent(policy, data)
        region = policy.region or self.default_region
        method: str = data.method or policy.method
        explicit = data.method is not None
        name = contacts.normalize_name(data.name)
        phone_raw = (data.phone or "").strip()
        email_raw = (data.email or "").strip()
        errors: dict[str, str] = {}
        phone: str | None = None
        email: str | None = None
        mobile = False
        if phone_raw:
            try:
                phone = contacts.normalize_phone(phone_raw, region, require_mobile=False)
                mobile = contacts.is_mobile(phone)
            except InvalidInput as exc:
                errors["phone"] = exc.message
        if email_raw:
            try:
                email = contacts.normalize_email(email_raw)
            except InvalidInput as exc:
                errors["email"] = exc.message
        if errors:
            raise InvalidInput.many(errors)

        opted = opt_outs(session, workspace_id, phone, email, self.journal.suppression_key)
        channels = choose_channels(method, explicit, phone, mobile, email, opted)
        language = (data.language or policy.language or "en").lower()
        wanted = self._wanted(data, policy, now)
        # Each channel its own time: a text waits for the recipient's hours, an email does not.
        due = tuple((c, earliest_send(wanted, policy, c, phone)) for c in channels)
        first = min(at for _, at in due)
        return Plan(name, phone, email, method, channels, language, first, due)

    def _wanted(self, data: RequestCreate, policy: WorkspacePolicy, now: datetime) -> datetime:
        """The time asked for (now, a date, the delay), before the window and the hours."""
        if data.when == "now":
            wanted = now
        elif data.when == "at":
            if data.at is None:
                raise InvalidInput("Pick a date and time.", field="when")
            if data.at.tzinfo is None:
                raise InvalidInput("The time needs a timezone.", field="when")
            if data.at < now - timedelta(minutes=1):
                raise InvalidInput("That time has already passed.", field="when")
            wanted = max(data.at, now)
        else:
            delay = data.delay if data.delay is not None else parse_delay(policy.delay)
            wanted = now + delay
        return wanted


# --- plan and rules ------------------------------------------------------------------------

CONSENT_REQUIRED = (
    "Confirm that the customer agreed to be contacted: this workspace requires it "
    "(setting require_consent)."
)


def require_consent(policy: WorkspacePolicy, data: RequestCreate) -> None:
    """Refuse a request without the sender's word that the customer agreed, where required."""
    if policy.require_consent and not data.consent:
        raise InvalidInput(CONSENT_REQUIRED, field="consent")


def consent_record(data: RequestCreate, actor: Actor, now: datetime) -> dict[str, Any]:
    """The request's consent record: how it was asked for; who confirmed the agreement, when.

    A surface that does not say how (tests, older callers) is read from who asked.
    """
    origin = data.origin or origin_of(actor)
    return {
        "origin": "slack" if origin == "system" else origin,
        "consent_at": now if data.consent else None,
        "consent_by": actor.id if data.consent else None,
    }


@dataclass(frozen=True)
class Plan:
    name: str
    phone: str | None
    email: str | None
    method: str
    channels: tuple[str, ...]
    language: str
    due_at: datetime  # the first message's
    channel_due: tuple[tuple[str, datetime], ...] = ()  # each channel's, when they differ

    def due_for(self, channel: str) -> datetime:
        return dict(self.channel_due).get(channel, self.due_at)


@dataclass(frozen=True)
class OptOuts:
    phone: datetime | None
    email: datetime | None
    # "phone", "email": opted out by a customer since erased (a suppression, not a contact).
    erased: frozenset[str] = frozenset()


def choose_channels(
    method: str,
    explicit: bool,
    phone: str | None,
    mobile: bool,
    email: str | None,
    opted: OptOuts,
) -> tuple[str, ...]:
    """Pick the channels a request goes out by, or say precisely what is missing."""

    def need_mobile(channel: str) -> None:
        label = METHOD_LABELS[channel]
        if phone is None:
            raise InvalidInput(f"{label} needs a phone number.", field="phone")
        if not mobile:
            raise InvalidInput(contacts.not_mobile_reason(phone, label), field="phone")
        if reason := opted_out_reason(opted, "phone", label):
            raise InvalidInput(reason, field="phone")

    def need_email() -> None:
        if email is None:
            raise InvalidInput("Email needs an email address.", field="email")
        if reason := opted_out_reason(opted, "email", "by email"):
            raise InvalidInput(reason, field="email")

    if method in PHONE_CHANNELS:
        need_mobile(method)
        return (method,)
    if method == "email":
        need_email()
        return ("email",)
    phone_ok = phone is not None and mobile and opted.phone is None
    email_ok = email is not None and opted.email is None
    if method == "sms_or_email":
        if phone_ok:
            return ("sms",)
        if email_ok:
            return ("email",)
        if phone is None and email is None:
            raise InvalidInput("Give a mobile number or an email address.", field="phone")
        if phone is not None:
            need_mobile("sms")
        need_email()
        raise AssertionError("unreachable")  # pragma: no cover
    # sms_and_email: both when chosen explicitly; a workspace default sends what it can.
    if explicit or (not phone_ok and not email_ok):
        if phone is None and email is None:
            raise InvalidInput("Give a mobile number and an email address.", field="phone")
        need_mobile("sms")
        need_email()
        return ("sms", "email")
    return tuple(c for c, ok in (("sms", phone_ok), ("email", email_ok)) if ok)


def opted_out_reason(opted: OptOuts, kind: str, label: str) -> str | None:
    """Say why the phone or email can't be used (None when it can), an erased customer's too."""
    at = opted.phone if kind == "phone" else opted.email
    if at is None:
        return None
    if kind in opted.erased:  # the contact is gone: its opt-out outlives it as a hash
        if kind == "phone":
            return (
                "This customer asked to be erased and had opted out of SMS and WhatsApp "
                f"(on {at:%Y-%m-%d}); they can't be sent {label} unless they text START."
            )
        return (
            "This customer asked to be erased and had unsubscribed from email "
            f"(on {at:%Y-%m-%d}); they can't be emailed."
        )
    if kind == "phone":
        return f"This number opted out (replied STOP) on {at:%Y-%m-%d}; it can't be sent {label}."
    return f"This address unsubscribed on {at:%Y-%m-%d}; it can't be emailed."


def opt_outs(
    session: Session,
    workspace_id: int,
    phone: str | None,
    email: str | None,
    key: SuppressionKey | None = None,
) -> OptOuts:
    """Say since when the phone and the email opted out, by a contact or an erased one's hash."""
    phone_at = email_at = None
    if phone:
        by_phone = contact_store.contact_by_phone(session, workspace_id, phone)
        phone_at = by_phone.phone_opted_out_at if by_phone else None
    if email:
        by_email = contact_store.contact_by_email(session, workspace_id, email)
        email_at = by_email.email_opted_out_at if by_email else None
    erased: dict[str, datetime] = {}
    for kind, address in (("phone", phone), ("email", email)):
        if key is not None and address:
            row = suppressions.find(session, workspace_id, kind, key.digest(kind, address))
            if row is not None:
                erased[kind] = row.opted_out_at
    if phone_at is None and "phone" in erased:
        phone_at = erased["phone"]
    if email_at is None and "email" in erased:
        email_at = erased["email"]
    return OptOuts(phone_at, email_at, frozenset(erased))


def upsert_contact(session: Session, workspace_id: int, plan: Plan, now: datetime) -> Contact:
    """Find the contact by phone, then email; fill in what it lacks; create it if new."""
    contact = None
    if plan.phone:
        contact = contact_store.contact_by_phone(session, workspace_id, plan.phone)
    if contact is None and plan.email:
        contact = contact_store.contact_by_email(session, workspace_id, plan.email)
    if contact is None:
        contact = Contact(
            workspace_id=workspace_id,
            name=plan.name,
            phone=plan.phone,
            email=plan.email,
            language=plan.language,
            created_at=now,
        )
    else:
        if plan.name != "customer":
            contact.name = plan.name
        contact.language = plan.language
        if plan.phone and not contact.phone:
            contact.phone = plan.phone
        if plan.email and not contact.email:
            if contact_store.contact_by_email(session, workspace_id, plan.email) is None:
                contact.email = plan.email
    session.add(contact)
    session.flush()
    return contact


def check_cooldown(
    session: Session,
    workspace_id: int,
    contact: Contact,
    plan: Plan,
    policy: WorkspacePolicy,
    now: datetime,
) -> None:
    if policy.cooldown_days <= 0:
        return
    since = now - timedelta(days=policy.cooldown_days)
    clauses = [ReviewRequest.contact_id == contact.id]
    previous = session.exec(
        select(ReviewRequest)
        .where(
            ReviewRequest.workspace_id == workspace_id,
            *clauses,
            col(ReviewRequest.created_at) >= since,
            col(ReviewRequest.deleted_at).is_(None),
            ReviewRequest.status != Status.CANCELED.value,
        )
        .order_by(col(ReviewRequest.created_at).desc())
    ).first()
    if previous is not None:
        raise Conflict(
            f"{previous.customer_name} was already asked on {previous.created_at:%Y-%m-%d} "
            f"(#{previous.number}); the cooldown is {policy.cooldown_days} days. "
            "Send anyway to override it.",
            field="phone" if plan.phone else "email",
        )


def allocate_number(session: Session, workspace_id: int) -> int:
    # One atomic increment: two creators can never get the same number.
    next_number = session.execute(
        update(Workspace)
        .where(col(Workspace.id) == workspace_id)
        .values(next_number=Workspace.next_number + 1)
        .returning(col(Workspace.next_number))
    ).scalar_one()
    return int(next_number) - 1
