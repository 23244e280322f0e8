"""Use-cases: the one place that changes a review request (used by Slack, CLI, web and scheduler)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.domain import contacts
from bot.domain.channels import METHOD_LABELS, PHONE_CHANNELS
from bot.domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.domain.policy import WorkspacePolicy
from bot.domain.status import PENDING, Status, request_status
from bot.domain.timing import parse_delay, slack_date_token
from bot.domain.window import next_allowed, parse_window
from bot.usecases.actors import Actor
from bot.usecases.journal import Journal, opted_out
from bot.usecases.notifier import Change, Notifier, NullNotifier
from store import contacts as contact_store
from store import queries
from store.db import Database
from store.models import Contact, Event, Message, ReviewRequest, Workspace

Method = Literal["sms", "whatsapp", "email", "sms_or_email", "sms_and_email"]
ReviewType = Literal["service", "product"]
When = Literal["now", "delay", "at"]


class RequestCreate(BaseModel):
    """What a user typed to ask one customer for a review; validated by `ReviewOps.create`."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    method: Method | None = None  # None: the workspace default
    review_type: ReviewType = "service"
    reference: str | None = None
    when: When = "delay"
    at: datetime | None = None  # with when="at"
    delay: timedelta | None = None  # overrides the workspace delay with when="delay"
    language: str | None = None
    override_cooldown: bool = False
    origin_channel: str | None = None  # Slack channel the command ran in


class RequestEdit(BaseModel):
    """Corrections to a request before it goes out; None leaves a field as it is, "" clears it."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    reference: str | None = None
    override_cooldown: bool = False


@dataclass
class BulkResult:
    """What a change to several requests did: which changed, and why the others did not."""

    changed: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class RequestDetail:
    request: ReviewRequest
    messages: list[Message]
    events: list[Event]
    contact: Contact | None
    policy: WorkspacePolicy


@dataclass
class CustomerLookup:
    """What a customer search found: one customer's history, or the customers to choose from."""

    query: str
    history: queries.ContactHistory | None
    choices: list[Contact]
    more: bool = False  # more customers matched than `choices` holds


# A phone number as people type it: digits, spaces, +, (), dots, dashes and slashes.
_PHONE_LIKE = re.compile(r"[+\d\s().\-/]+")


class ReviewOps:
    """The review-request use-cases, bound to a database, a clock and a notifier."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        notifier: Notifier | None = None,
        default_region: str = "US",
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.notifier: Notifier = notifier or NullNotifier()
        self.journal = Journal(self.notifier)
        self.default_region = default_region
        self._wake = wake

    def set_wake(self, wake: Callable[[], None] | None) -> None:
        """Say whom to wake when a message becomes due now (the dispatcher)."""
        self._wake = wake

    def wake(self) -> None:
        if self._wake is not None:
            self._wake()

    # --- workspaces -------------------------------------------------------------------

    def ensure_workspace(self, team_id: str, name: str = "") -> Workspace:
        """Return the workspace for a Slack team id, creating it with default settings."""
        with self.db.write() as session:
            workspace = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
            if workspace is None:
                policy = WorkspacePolicy(region=self.default_region, business_name=name)
                workspace = Workspace(
                    team_id=team_id,
                    name=name,
                    policy=policy.model_dump(mode="json"),
                    created_at=self.clock.now(),
                )
                session.add(workspace)
                session.flush()
            return workspace

    def only_workspace(self, team_id: str | None = None) -> Workspace:
        """Return the workspace the CLI acts on: the one named, or the only one there is.

        :raise InvalidInput: when several exist and none is named, or the named one is unknown.
        """
        with self.db.read() as session:
            if team_id:
                workspace = session.exec(
                    select(Workspace).where(Workspace.team_id == team_id)
                ).first()
                if workspace is None:
                    raise InvalidInput(f"No workspace {team_id}.", field="workspace")
                return workspace
            workspaces = session.exec(select(Workspace).order_by(col(Workspace.id)).limit(2)).all()
        if len(workspaces) > 1:
            raise InvalidInput(
                "There are several workspaces: choose one with --workspace TEAM_ID.",
                field="workspace",
            )
        if workspaces:
            return workspaces[0]
        return self.ensure_workspace("local", "")

    def policy(self, workspace_id: int) -> WorkspacePolicy:
        with self.db.read() as session:
            workspace = session.get(Workspace, workspace_id)
            if workspace is None:
                raise NotFound("That workspace doesn't exist.")
            return WorkspacePolicy.model_validate(workspace.policy)

    def update_policy(self, workspace_id: int, policy: WorkspacePolicy, actor: Actor) -> None:
        """Store a workspace's validated settings, whole."""
        with self.db.write() as session:
            workspace = session.get(Workspace, workspace_id)
            if workspace is None:
                raise NotFound("That workspace doesn't exist.")
            before = WorkspacePolicy.model_validate(workspace.policy).model_dump(mode="json")
            after = policy.model_dump(mode="json")
            workspace.policy = after
            session.add(workspace)
            changed = {k: after[k] for k in after if before.get(k) != after[k]}
            session.add(
                Event(
                    workspace_id=workspace_id,
                    kind="settings_changed",
                    actor=actor.id,
                    at=self.clock.now(),
                    detail={"changed": changed, "actor_name": actor.name},
                )
            )

    # --- create -----------------------------------------------------------------------

    def create(self, workspace_id: int, data: RequestCreate, actor: Actor) -> ReviewRequest:
        """Validate and store a new request with its first message(s).

        :raise InvalidInput: a field is wrong (``.field`` names it); nothing is stored.
        :raise Conflict: the contact was invited within the cooldown and no override was given.
        """
        now = self.clock.now()
        with self.db.write() as session:
            workspace = _workspace(session, workspace_id)
            policy = WorkspacePolicy.model_validate(workspace.policy)
            plan = self._plan(session, workspace_id, policy, data, now)
            contact = _upsert_contact(session, workspace_id, plan, now)
            if not data.override_cooldown:
                _check_cooldown(session, workspace_id, contact, plan, policy, now)
            number = _allocate_number(session, workspace_id)
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
            )
            self.journal.open_request(session, request)
            for channel in plan.channels:
                self.journal.add_message(session, request, channel, "initial", plan.due_at, now)
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
        if plan.due_at <= now:
            self.wake()
        return request

    def _plan(
        self,
        session: Session,
        workspace_id: int,
        policy: WorkspacePolicy,
        data: RequestCreate,
        now: datetime,
    ) -> _Plan:
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

        opted = _opt_outs(session, workspace_id, phone, email)
        channels = _choose_channels(method, explicit, phone, mobile, email, opted)
        language = (data.language or policy.language or "en").lower()
        due_at = self._due_at(data, policy, now)
        return _Plan(name, phone, email, method, channels, language, due_at)

    def _due_at(self, data: RequestCreate, policy: WorkspacePolicy, now: datetime) -> datetime:
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
        return next_allowed(
            wanted, policy.timezone, parse_window(policy.send_window), policy.holidays
        )

    # --- queue control ----------------------------------------------------------------

    def pause(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Hold the queued messages of these requests until resumed."""
        return self._bulk(workspace_id, numbers, actor, self._pause_one)

    def resume(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Put paused messages back in the queue; overdue ones go out at once."""
        result = self._bulk(workspace_id, numbers, actor, self._resume_one)
        if result.changed:
            self.wake()
        return result

    def cancel(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Cancel for good whatever these requests still had to send."""
        return self._bulk(workspace_id, numbers, actor, self._cancel_one)

    def count_queued(self, workspace_id: int) -> int:
        """Count the requests that still have a message waiting (queued or paused)."""
        with self.db.read() as session:
            return session.exec(
                select(func.count(func.distinct(Message.request_id))).where(
                    Message.workspace_id == workspace_id,
                    col(Message.status).in_([s.value for s in PENDING]),
                )
            ).one()

    def cancel_all_queued(self, workspace_id: int, actor: Actor) -> BulkResult:
        """Cancel every request in the workspace that still has a message waiting."""
        with self.db.read() as session:
            numbers = session.exec(
                select(ReviewRequest.number)
                .join(Message, col(Message.request_id) == col(ReviewRequest.id))
                .where(
                    Message.workspace_id == workspace_id,
                    col(Message.status).in_([s.value for s in PENDING]),
                    col(ReviewRequest.deleted_at).is_(None),
                )
                .distinct()
            ).all()
        return self.cancel(workspace_id, sorted(numbers), actor)

    def reschedule(
        self, workspace_id: int, number: int, when: datetime, actor: Actor
    ) -> ReviewRequest:
        """Move the waiting messages of a request to a new time (inside the send window).

        :raise NotAllowed: nothing is waiting to be sent.
        """
        now = self.clock.now()
        if when.tzinfo is None:
            raise InvalidInput("The time needs a timezone.", field="when")
        if when < now - timedelta(minutes=1):
            raise InvalidInput("That time has already passed.", field="when")
        with self.db.write() as session:
            request = _request(session, workspace_id, number)
            policy = WorkspacePolicy.model_validate(_workspace(session, workspace_id).policy)
            due = next_allowed(
                max(when, now), policy.timezone, parse_window(policy.send_window), policy.holidays
            )
            pending = _pending_messages(session, request)
            if not pending:
                raise NotAllowed(_why_not(session, request, "rescheduled"))
            self.journal.wait(session, pending, Status.QUEUED, now, due_at=due)
            request.scheduled_at = due
            self.journal.refresh(session, request, now)
            self.journal.record(
                session, request, "rescheduled", actor, now, detail={"due_at": due.isoformat()}
            )
            self.journal.notify(
                session,
                request,
                Change(
                    "rescheduled",
                    f"Rescheduled by {actor.label} for {slack_date_token(due, policy.timezone)}",
                    actor_id=actor.id,
                ),
            )
        if due <= now:
            self.wake()
        return request

    def send_now(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send the waiting messages of a request now (still inside the send window)."""
        return self.reschedule(workspace_id, number, self.clock.now(), actor)

    def resend(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send a failed, undelivered or unknown request again, as a new message.

        :raise NotAllowed: the last message did not fail, or the customer opted out.
        """
        now = self.clock.now()
        with self.db.write() as session:
            request = _request(session, workspace_id, number)
            messages = _messages(session, request)
            if _pending_messages(session, request) or any(
                m.status in (Status.CLAIMED, Status.SENDING) for m in messages
            ):
                raise NotAllowed(
                    f"#{number} still has a message on its way, so it can't be resent."
                )
            last = messages[-1] if messages else None
            resendable = {Status.FAILED, Status.UNDELIVERED, Status.UNKNOWN}
            if last is None or Status(last.status) not in resendable:
                state = last.status if last else "empty"
                raise NotAllowed(
                    f"#{number} is {state}: only failed, undelivered or unknown requests can be resent."
                )
            contact = session.get(Contact, request.contact_id) if request.contact_id else None
            if contact is not None and opted_out(contact, last.channel):
                raise NotAllowed(
                    f"{request.customer_name} opted out of {last.channel.upper()}, so #{number} can't be resent."
                )
            self.journal.add_message(session, request, last.channel, "resend", now, now)
            request.scheduled_at = now
            self.journal.refresh(session, request, now)
            self.journal.record(
                session, request, "resent", actor, now, detail={"channel": last.channel}
            )
            self.journal.notify(
                session, request, Change("resent", f"Resent by {actor.label}", actor_id=actor.id)
            )
        self.wake()
        return request

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
            request = _request(session, workspace_id, number)
            pending = _editable_messages(session, request)
            workspace = _workspace(session, workspace_id)
            policy = WorkspacePolicy.model_validate(workspace.policy)
            region = policy.region or self.default_region
            values = _edited_values(request, data, region)
            opted = _opt_outs(session, workspace_id, values["phone"], values["email"])
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
            plan = _Plan(
                values["name"] or "customer",
                values["phone"],
                values["email"],
                request.method,
                tuple(m.channel for m in pending),
                request.language,
                request.scheduled_at or now,
            )
            contact = _upsert_contact(session, workspace_id, plan, now)
            if not data.override_cooldown and contact.id != request.contact_id:
                _check_cooldown(session, workspace_id, contact, plan, policy, now)
            request.customer_name = plan.name
            request.phone = plan.phone
            request.email = plan.email
            request.reference = values["reference"]
            request.contact_id = contact.id
            request.updated_at = now
            session.add(request)
            for message in pending:
                message.to_address = (
                    plan.phone if message.channel in PHONE_CHANNELS else plan.email
                ) or ""
                message.updated_at = now
                session.add(message)
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
            request = _request(session, workspace_id, number)
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
            request = _request(session, workspace_id, number)
            messages = _messages(session, request)
            if any(m.status in (Status.CLAIMED, Status.SENDING) for m in messages):
                raise NotAllowed(f"#{number} is being sent right now; try again in a minute.")
            self.journal.cancel_waiting(session, messages, None, now)
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
            request.customer_name = "deleted"
            request.phone = None
            request.email = None
            request.reference = None
            request.last_error = None
            request.deleted_at = now
            self.journal.refresh(session, request, now)
            self.journal.forget(session, request)
            self.journal.record(session, request, "deleted", actor, now, detail={"number": number})
            self.journal.notify(
                session, request, Change("deleted", f"Deleted by {actor.label}", actor_id=actor.id)
            )

    def show(self, workspace_id: int, number: int) -> RequestDetail:
        """Return a request with its messages and its event log."""
        with self.db.read() as session:
            request = _request(session, workspace_id, number, include_deleted=True)
            messages = _messages(session, request)
            events = list(
                session.exec(
                    select(Event).where(Event.request_id == request.id).order_by(col(Event.id))
                ).all()
            )
            contact = session.get(Contact, request.contact_id) if request.contact_id else None
            policy = WorkspacePolicy.model_validate(_workspace(session, workspace_id).policy)
            return RequestDetail(request, messages, events, contact, policy)

    # --- one customer ------------------------------------------------------------------

    def find_customer(self, workspace_id: int, value: str) -> CustomerLookup:
        """Find a customer by email, phone (any usual form, read in the workspace region) or name.

        :raise InvalidInput: nothing was typed, or an email or phone number that can't be read.
        :raise NotFound: no customer matches.
        """
        text = " ".join((value or "").split())
        if not text:
            raise InvalidInput(
                "Say whom to show: an email address, a phone number or a name.", field="customer"
            )
        region = self.policy(workspace_id).region or self.default_region
        with self.db.read() as session:
            if "@" in text:
                email = contacts.normalize_email(text)
                found = contact_store.contacts_by_email(session, workspace_id, email)
                missing = f"No customer has the address {email}."
            elif _PHONE_LIKE.fullmatch(text) and any(c.isdigit() for c in text):
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

    # --- internals shared by the bulk actions -------------------------------------------

    def _bulk(
        self,
        workspace_id: int,
        numbers: Iterable[int],
        actor: Actor,
        one: Callable[[Session, ReviewRequest, Actor, datetime], None],
    ) -> BulkResult:
        result = BulkResult()
        now = self.clock.now()
        for number in dict.fromkeys(numbers):  # keep order, drop repeats
            try:
                with self.db.write() as session:
                    request = _request(session, workspace_id, number)
                    one(session, request, actor, now)
                result.changed.append(number)
            except (NotAllowed, NotFound) as exc:
                result.refused.append((number, exc.message))
        return result

    def _pause_one(
        self, session: Session, request: ReviewRequest, actor: Actor, now: datetime
    ) -> None:
        queued = [m for m in _pending_messages(session, request) if m.status == Status.QUEUED]
        if not queued:
            raise NotAllowed(_why_not(session, request, "paused"))
        self.journal.wait(session, queued, Status.PAUSED, now)
        self._tell(session, request, "paused", actor, now)

    def _resume_one(
        self, session: Session, request: ReviewRequest, actor: Actor, now: datetime
    ) -> None:
        paused = [m for m in _pending_messages(session, request) if m.status == Status.PAUSED]
        if not paused:
            if _pending_messages(session, request):
                raise NotAllowed(f"#{request.number} isn't paused, so it can't be resumed.")
            raise NotAllowed(_why_not(session, request, "resumed"))
        self.journal.wait(session, paused, Status.QUEUED, now)
        self._tell(session, request, "resumed", actor, now)

    def _cancel_one(
        self, session: Session, request: ReviewRequest, actor: Actor, now: datetime
    ) -> None:
        pending = _pending_messages(session, request)
        if not pending:
            raise NotAllowed(_why_not(session, request, "canceled"))
        self.journal.cancel_waiting(session, pending, f"Canceled by {actor.name or actor.id}", now)
        self._tell(session, request, "canceled", actor, now)

    def _tell(
        self, session: Session, request: ReviewRequest, verb: str, actor: Actor, now: datetime
    ) -> None:
        """Refresh the request after a change to its waiting messages; record and tell who did it."""
        self.journal.refresh(session, request, now)
        self.journal.record(session, request, verb, actor, now)
        self.journal.notify(
            session,
            request,
            Change(verb, f"{verb.capitalize()} by {actor.label}", actor_id=actor.id),
        )


# --- plan and rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    name: str
    phone: str | None
    email: str | None
    method: str
    channels: tuple[str, ...]
    language: str
    due_at: datetime


@dataclass(frozen=True)
class _OptOuts:
    phone: datetime | None
    email: datetime | None


def _choose_channels(
    method: str,
    explicit: bool,
    phone: str | None,
    mobile: bool,
    email: str | None,
    opted: _OptOuts,
) -> tuple[str, ...]:
    """Pick the channels a request goes out by, or say precisely what is missing."""

    def need_mobile(channel: str) -> None:
        label = METHOD_LABELS[channel]
        if phone is None:
            raise InvalidInput(f"{label} needs a phone number.", field="phone")
        if not mobile:
            raise InvalidInput(contacts.not_mobile_reason(phone, label), field="phone")
        if opted.phone is not None:
            raise InvalidInput(
                f"This number opted out (replied STOP) on {opted.phone:%Y-%m-%d}; it can't be sent {label}.",
                field="phone",
            )

    def need_email() -> None:
        if email is None:
            raise InvalidInput("Email needs an email address.", field="email")
        if opted.email is not None:
            raise InvalidInput(
                f"This address unsubscribed on {opted.email:%Y-%m-%d}; it can't be emailed.",
                field="email",
            )

    if method in ("sms", "whatsapp"):
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


def _opt_outs(
    session: Session, workspace_id: int, phone: str | None, email: str | None
) -> _OptOuts:
    phone_at = email_at = None
    if phone:
        by_phone = contact_store.contact_by_phone(session, workspace_id, phone)
        phone_at = by_phone.phone_opted_out_at if by_phone else None
    if email:
        by_email = contact_store.contact_by_email(session, workspace_id, email)
        email_at = by_email.email_opted_out_at if by_email else None
    return _OptOuts(phone_at, email_at)


def _editable_messages(session: Session, request: ReviewRequest) -> list[Message]:
    """Return the waiting messages of a request nothing of which has gone out yet."""
    messages = _messages(session, request)
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
        reference = data.reference.strip()[:100] or None
    return {"name": name, "phone": phone, "email": email, "reference": reference}


def _edit_errors(
    pending: list[Message], phone: str | None, email: str | None, opted: _OptOuts
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


def _upsert_contact(session: Session, workspace_id: int, plan: _Plan, now: datetime) -> Contact:
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


def _check_cooldown(
    session: Session,
    workspace_id: int,
    contact: Contact,
    plan: _Plan,
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


def _allocate_number(session: Session, workspace_id: int) -> int:
    # One atomic increment: two creators can never get the same number.
    next_number = session.execute(
        update(Workspace)
        .where(col(Workspace.id) == workspace_id)
        .values(next_number=Workspace.next_number + 1)
        .returning(col(Workspace.next_number))
    ).scalar_one()
    return int(next_number) - 1


def _workspace(session: Session, workspace_id: int) -> Workspace:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("That workspace doesn't exist.")
    return workspace


def _request(
    session: Session, workspace_id: int, number: int, *, include_deleted: bool = False
) -> ReviewRequest:
    request = session.exec(
        select(ReviewRequest).where(
            ReviewRequest.workspace_id == workspace_id, ReviewRequest.number == number
        )
    ).first()
    if request is None or (request.deleted_at is not None and not include_deleted):
        raise NotFound(f"There is no request #{number}.")
    return request


def _messages(session: Session, request: ReviewRequest) -> list[Message]:
    return list(
        session.exec(
            select(Message).where(Message.request_id == request.id).order_by(col(Message.id))
        ).all()
    )


def _pending_messages(session: Session, request: ReviewRequest) -> list[Message]:
    return [m for m in _messages(session, request) if m.status in PENDING]


def _why_not(session: Session, request: ReviewRequest, verb: str) -> str:
    """Explain why a request has nothing waiting for this action."""
    messages = _messages(session, request)
    statuses = {Status(m.status) for m in messages}
    number = request.number
    if statuses & {Status.CLAIMED, Status.SENDING}:
        return f"#{number} is being sent right now, so it can't be {verb}."
    if verb == "paused" and Status.PAUSED in statuses:
        return f"#{number} is already paused."
    shown = request_status(statuses) if statuses else Status.CANCELED
    if shown is Status.CANCELED:
        return f"#{number} is already canceled."
    if shown in (Status.FAILED, Status.UNDELIVERED):
        return f"#{number} already {shown.value}, so it can't be {verb}."
    return f"#{number} was already sent, so it can't be {verb}."
