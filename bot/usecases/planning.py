"""The rules a new request is checked by, without writing: contact, channels, opt-outs, time.

One set of rules for the send form, the quick command, the CLI, the API and a CSV import:
`Creating.create` plans one request in its transaction; `Importing` plans thousands against
addresses read in bulk (`Addresses`), with the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from bot.domain import contacts
from bot.domain.channels import METHOD_LABELS, PHONE_CHANNELS
from bot.domain.errors import Conflict, InvalidInput
from bot.domain.policy import WorkspacePolicy
from bot.domain.send_time import asked_time, earliest_send
from bot.usecases.actors import Actor
from bot.usecases.audit import origin_of
from bot.usecases.inputs import RequestCreate
from store import contacts as contact_store
from store import suppressions
from store.models import Contact, ReviewRequest
from store.suppressions import SuppressionKey

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


class Addresses(Protocol):
    """Where the rules look up a workspace's contacts and erased customers' suppressions."""

    def by_phone(self, phone: str) -> Contact | None: ...

    def by_email(self, email: str) -> Contact | None: ...

    def suppressed_at(self, kind: str, digest: str) -> datetime | None: ...


class SessionAddresses:
    """Look each address up in the database, in the caller's transaction, once.

    A contact found (or not) is remembered for the life of this object: make a new one after
    the transaction writes a contact's phone or email.
    """

    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self._phones: dict[str, Contact | None] = {}
        self._emails: dict[str, Contact | None] = {}

    def by_phone(self, phone: str) -> Contact | None:
        if phone not in self._phones:
            found = contact_store.contact_by_phone(self.session, self.workspace_id, phone)
            self._phones[phone] = found
        return self._phones[phone]

    def by_email(self, email: str) -> Contact | None:
        if email not in self._emails:
            found = contact_store.contact_by_email(self.session, self.workspace_id, email)
            self._emails[email] = found
        return self._emails[email]

    def suppressed_at(self, kind: str, digest: str) -> datetime | None:
        row = suppressions.find(self.session, self.workspace_id, kind, digest)
        return row.opted_out_at if row is not None else None


def email_free(addresses: Addresses, email: str | None, contact: Contact | None) -> bool:
    """Say whether a request's email may be added to its contact: no other contact has it.

    The one rule for the send form (in its transaction) and an import (checked in bulk).
    """
    return bool(email) and addresses.by_email(email or "") in (None, contact)


def opt_outs(
    addresses: Addresses,
    phone: str | None,
    email: str | None,
    key: SuppressionKey | None = None,
) -> OptOuts:
    """Say since when the phone and the email opted out, by a contact or an erased one's hash."""
    phone_at = email_at = None
    if phone:
        by_phone = addresses.by_phone(phone)
        phone_at = by_phone.phone_opted_out_at if by_phone else None
    if email:
        by_email = addresses.by_email(email)
        email_at = by_email.email_opted_out_at if by_email else None
    erased: dict[str, datetime] = {}
    for kind, address in (("phone", phone), ("email", email)):
        if key is not None and address:
            at = addresses.suppressed_at(kind, key.digest(kind, address))
            if at is not None:
                erased[kind] = at
    if phone_at is None and "phone" in erased:
        phone_at = erased["phone"]
    if email_at is None and "email" in erased:
        email_at = erased["email"]
    return OptOuts(phone_at, email_at, frozenset(erased))


@dataclass(frozen=True)
class Typed:
    """A request's contact as typed, normalised: name, E.164 phone, email, whether a mobile."""

    name: str
    phone: str | None
    email: str | None
    mobile: bool


def read_contact(data: RequestCreate, region: str) -> Typed:
    """Normalise the typed name, phone and email.

    :raise InvalidInput: the phone or the email is not one (each named).
    """
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
    return Typed(contacts.normalize_name(data.name), phone, email, mobile)


def make_plan(
    policy: WorkspacePolicy,
    data: RequestCreate,
    typed: Typed,
    opted: OptOuts,
    wanted: datetime,
) -> Plan:
    """Choose the channels, language and each channel's time of a checked request.

    :raise InvalidInput: no usable channel (what is missing or opted out is named).
    """
    method: str = data.method or policy.method
    explicit = data.method is not None
    phone = typed.phone
    channels = choose_channels(method, explicit, phone, typed.mobile, typed.email, opted)
    language = (data.language or policy.language or "en").lower()
    # Each channel its own time: a text waits for the recipient's hours, an email does not.
    due = tuple((c, earliest_send(wanted, policy, c, phone)) for c in channels)
    first = min(at for _, at in due)
    return Plan(typed.name, phone, typed.email, method, channels, language, first, due)


def wanted_time(data: RequestCreate, policy: WorkspacePolicy, now: datetime) -> datetime:
    """The time asked for (now, a date, the delay), before the window and the hours.

    :raise InvalidInput: a time without a timezone, or already past.
    """
    return asked_time(data.when, data.at, data.delay, policy, now)


def cooldown_conflict(
    previous: ReviewRequest | None, plan: Plan, policy: WorkspacePolicy
) -> Conflict | None:
    """Say why the contact can't be asked again yet (the last request within the cooldown)."""
    if previous is None:
        return None
    return Conflict(
        f"{previous.customer_name} was already asked on {previous.created_at:%Y-%m-%d} "
        f"(#{previous.number}); the cooldown is {policy.cooldown_days} days. "
        "Send anyway to override it.",
        field="phone" if plan.phone else "email",
    )
