"""Creating a request: plan (channels, due time), contact, cooldown, number, first messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_read import stored_policy
from bot.usecases import event_log, loading, once
from bot.usecases.actors import Actor
from bot.usecases.inputs import RequestCreate
from bot.usecases.notifier import Change
from bot.usecases.planning import (
    CONSENT_REQUIRED,
    OptOuts,
    Plan,
    SessionAddresses,
    choose_channels,
    consent_record,
    cooldown_conflict,
    email_free,
    make_plan,
    opted_out_reason,
    read_contact,
    require_consent,
    wanted_time,
)
from bot.usecases.planning import opt_outs as opt_outs_of
from bot.usecases.services import UseCase
from store import contacts as contact_store
from store.models import Contact, ReviewRequest, Workspace
from store.suppressions import SuppressionKey

__all__ = [
    "CONSENT_REQUIRED",
    "Creating",
    "OptOuts",
    "Plan",
    "allocate_numbers",
    "check_cooldown",
    "choose_channels",
    "consent_record",
    "opt_outs",
    "opted_out_reason",
    "upsert_contact",
]


class Creating(UseCase):
    """Validate and store new review requests."""

    def create(
        self,
        workspace_id: int,
        data: RequestCreate,
        actor: Actor,
        *,
        key: str | None = None,
        claim: Callable[[Session], None] | None = None,
        keep: Callable[[Session, ReviewRequest], None] | None = None,
    ) -> ReviewRequest:
        """Validate and store a new request with its first message(s).

        `key` names the delivery it comes from (bot/usecases/once.py): one request per key.
        `claim` runs in the creating transaction once the workspace is locked and may refuse
        (raise): an order asks its customer once (bot/usecases/orders.py).
        `keep` runs last in the creating transaction, with the request written, and may refuse
        (raise): the API keeps its answer to an Idempotency-Key (bot/usecases/idempotency.py).

        :raise InvalidInput: a field is wrong (``.field`` names it); nothing is stored.
        :raise Conflict: the contact was invited within the cooldown and no override was given.
        :raise AlreadyCreated: a request was already created under `key`; nothing is stored.
        """
        now = self.clock.now()
        with self.db.write() as session:
            once.claim(session, workspace_id, key, now)
            # The number first: its increment locks the workspace's row until this commits, so
            # two creators for the same new customer take turns and the second finds the
            # contact the first made (a refusal rolls the number back with the rest).
            workspace = loading.workspace(session, workspace_id)
            number = allocate_number(session, workspace_id)
            if claim is not None:
                claim(session)
            policy = stored_policy(workspace.policy)
            # One lookup per address in this transaction: the opt-outs and the contact share it.
            addresses = SessionAddresses(session, workspace_id)
            plan = self._plan(addresses, policy, data, now)
            contact = upsert_contact(session, workspace_id, plan, now, addresses)
            if not data.override_cooldown:
                check_cooldown(session, workspace_id, contact, plan, policy, now)
            request = new_request(workspace_id, number, contact, plan, data, actor, now)
            self.journal.open_request(session, request)
            once.record(session, workspace_id, key, request)
            for channel in plan.channels:
                self.journal.add_message(
                    session, request, channel, "initial", plan.due_for(channel), now
                )
            self._record_created(session, request, plan, data, actor, now)
            if keep is not None:
                keep(session, request)
        event_log.request_created(request, workspace.team_id)
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
        addresses: SessionAddresses,
        policy: WorkspacePolicy,
        data: RequestCreate,
        now: datetime,
    ) -> Plan:
        require_consent(policy, data)
        typed = read_contact(data, policy.region or self.default_region)
        opted = opt_outs_of(addresses, typed.phone, typed.email, self.journal.suppression_key)
        return make_plan(policy, data, typed, opted, wanted_time(data, policy, now))


def new_request(
    workspace_id: int,
    number: int,
    contact: Contact,
    plan: Plan,
    data: RequestCreate,
    actor: Actor,
    now: datetime,
) -> ReviewRequest:
    """The request row a plan makes (not yet added)."""
    return ReviewRequest(
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


def opt_outs(
    session: Session,
    workspace_id: int,
    phone: str | None,
    email: str | None,
    key: SuppressionKey | None = None,
) -> OptOuts:
    """Say since when the phone and the email opted out (looked up in this transaction)."""
    return opt_outs_of(SessionAddresses(session, workspace_id), phone, email, key)


def upsert_contact(
    session: Session,
    workspace_id: int,
    plan: Plan,
    now: datetime,
    addresses: SessionAddresses | None = None,
) -> Contact:
    """Find the contact by phone, then email; fill in what it lacks; create it if new.

    `addresses`: the transaction's lookups so far (the opt-outs'), reused rather than repeated.
    """
    addresses = addresses or SessionAddresses(session, workspace_id)
    contact = None
    if plan.phone:
        contact = addresses.by_phone(plan.phone)
    if contact is None and plan.email:
        contact = addresses.by_email(plan.email)
    if contact is None:
        contact = new_contact(workspace_id, plan, now)
    else:
        free = email_free(addresses, plan.email, contact)
        merge_contact(contact, plan, email_free=free)
    session.add(contact)
    session.flush()
    return contact


def new_contact(workspace_id: int, plan: Plan, now: datetime) -> Contact:
    """The contact a request to someone new creates."""
    return Contact(**contact_values(workspace_id, plan, now))


def contact_values(workspace_id: int, plan: Plan, now: datetime) -> dict[str, Any]:
    """The columns of the contact a request to someone new creates."""
    return {
        "workspace_id": workspace_id,
        "name": plan.name,
        "phone": plan.phone,
        "email": plan.email,
        "language": plan.language,
        "created_at": now,
    }


def merge_contact(contact: Contact, plan: Plan, *, email_free: bool) -> None:
    """Update a known contact from a new request: its name, language, and what it lacks.

    `email_free`: no other contact of the workspace has the request's email.
    """
    if plan.name != "customer":
        contact.name = plan.name
    contact.language = plan.language
    if plan.phone and not contact.phone:
        contact.phone = plan.phone
    if plan.email and not contact.email and email_free:
        contact.email = plan.email


def check_cooldown(
    session: Session,
    workspace_id: int,
    contact: Contact,
    plan: Plan,
    policy: WorkspacePolicy,
    now: datetime,
) -> None:
    """:raise Conflict: the contact was asked within the cooldown."""
    if policy.cooldown_days <= 0:
        return
    since = now - timedelta(days=policy.cooldown_days)
    previous = session.exec(
        recent_requests(workspace_id, since).where(ReviewRequest.contact_id == contact.id)
    ).first()
    if (conflict := cooldown_conflict(previous, plan, policy)) is not None:
        raise conflict


def recent_requests(workspace_id: int, since: datetime) -> SelectOfScalar[ReviewRequest]:
    """The requests that count for the cooldown since a time, newest first."""
    return (
        select(ReviewRequest)
        .where(*contact_store.counts_for_cooldown(workspace_id, since))
        .order_by(col(ReviewRequest.created_at).desc())
    )


def allocate_number(session: Session, workspace_id: int) -> int:
    return allocate_numbers(session, workspace_id, 1)


def allocate_numbers(session: Session, workspace_id: int, count: int) -> int:
    """Take `count` consecutive request numbers; return the first."""
    # One atomic increment: two creators can never get the same number.
    next_number = session.execute(
        update(Workspace)
        .where(col(Workspace.id) == workspace_id)
        .values(next_number=Workspace.next_number + count)
        .returning(col(Workspace.next_number))
    ).scalar_one()
    return int(next_number) - count
