"""Order triggers: a shop's paid order asks its customer for a review, a refund cancels it.

The same rules and history as a request sent from Slack: requests are made by `Creating.create`
(cooldown, opt-outs, suppressions, consent, send window) and canceled by `Lifecycle.cancel`.
Each event is taken once (table trigger_event): a second delivery of it does nothing again.
An order that can't be asked (no usable phone or email, an opt-out, the cooldown) is recorded as
skipped with its reason, for `/reviews list orders`; nobody is alerted for each one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.domain.contacts import mask_email, mask_phone
from bot.domain.errors import Conflict, DomainError, InvalidInput
from bot.domain.orders import SHOP_NAMES, OrderEvent, OrderKind
from bot.domain.policy import WorkspacePolicy
from bot.domain.timing import parse_delay
from bot.usecases import history, loading
from bot.usecases.actors import Actor
from bot.usecases.creating import Creating
from bot.usecases.inputs import RequestCreate
from bot.usecases.lifecycle import Lifecycle
from bot.usecases.once import AlreadyCreated
from bot.usecases.reasons import stored_reason
from bot.usecases.services import Services, UseCase
from store import creation_keys, trigger_events
from store.filter_sql import HistoryFilter
from store.integration_models import TriggerEvent
from store.models import CUSTOMER_NAME_MAX

# Shops retry a failed delivery for up to 3 days (Stripe) or 48 hours (Shopify); the events
# are also what `/reviews list orders` shows.
KEEP_EVENTS = timedelta(days=90)
SKIPPED_WINDOW = timedelta(days=7)  # the skipped orders `/reviews list` counts
__all__ = ["OrderTriggers", "TriggerEvent", "TriggerOutcome"]  # the row type handlers render
SHOPS = {source: Actor(source, name) for source, name in SHOP_NAMES.items()}
NO_CONTACT = "no phone number or email address on the order"
CANCEL_AT_MOST = 100  # requests one refund cancels (an order has one or two)


class AlreadyAsked(Exception):  # noqa: N818  (a fact: the order's customer was asked)
    """Another event of this order made request #number (found in the creating transaction)."""

    def __init__(self, number: int) -> None:
        super().__init__(f"already asked for this order (#{number})")
        self.number = number


@dataclass(frozen=True)
class TriggerOutcome:
    """What an event did: created, skipped, canceled, nothing, duplicate or ignored."""

    outcome: str
    reason: str | None = None
    numbers: tuple[int, ...] = ()


def takes_orders(policy: WorkspacePolicy) -> bool:
    """Whether a shop's order event can be taken now: its secret set (the webhook refuses
    an event it can't verify) and its trigger on."""
    return bool(policy.shopify_secret and policy.shopify_orders) or bool(
        policy.stripe_secret and policy.stripe_orders
    )


class OrderTriggers(UseCase):
    """Apply shops' order events to a workspace's requests."""

    def __init__(self, services: Services, creating: Creating, lifecycle: Lifecycle) -> None:
        super().__init__(services)
        self.creating = creating
        self.lifecycle = lifecycle

    def receive(self, workspace_id: int, event: OrderEvent) -> TriggerOutcome:
        """Apply one verified event once; a second delivery of it changes nothing."""
        if event.kind is OrderKind.OTHER:
            return TriggerOutcome("ignored")
        now = self.clock.now()
        with self.db.write() as session:
            trigger_events.purge(session, now - KEEP_EVENTS)
            row = trigger_events.take(
                session,
                workspace_id,
                source=event.source,
                event_id=event.event_id,
                kind=event.kind.value,
                reference=event.reference,
                now=now,
            )
        # A pending row is an earlier delivery that stopped half way: finish it (the creation
        # key makes its request once).
        if row.outcome != trigger_events.PENDING:
            return TriggerOutcome("duplicate", row.reason, tuple(row.numbers))
        if event.kind is OrderKind.PAID:
            done = self._ask(workspace_id, event)
        else:
            done = self._cancel(workspace_id, event)
        assert row.id is not None
        with self.db.write() as session:
            settled = trigger_events.settle(
                session,
                row.id,
                outcome=done.outcome,
                reason=stored_reason(done.reason),
                numbers=done.numbers,
                now=self.clock.now(),
            )
            if event.kind is OrderKind.PAID and event.reference:
                trigger_events.remember_order(
                    session, workspace_id, event.source, event.order_keys, event.reference, now
                )
        return TriggerOutcome(settled.outcome, settled.reason, tuple(settled.numbers))

    def recent(self, workspace_id: int, *, limit: int = 20) -> list[TriggerEvent]:
        """The workspace's latest order events, newest first."""
        with self.db.read() as session:
            return trigger_events.recent(session, workspace_id, limit=limit)

    def skipped_lately(self, workspace_id: int, policy: WorkspacePolicy | None = None) -> int:
        """How many orders were skipped in the last week (the list's hint).

        Given the workspace's settings (`policy`), none without reading when no shop's trigger
        can take an order now: most workspaces have none, and the list asks at every page.
        """
        if policy is not None and not takes_orders(policy):
            return 0
        since = self.clock.now() - SKIPPED_WINDOW
        with self.db.read() as session:
            return trigger_events.count_since(session, workspace_id, "skipped", since)

    def _ask(self, workspace_id: int, event: OrderEvent) -> TriggerOutcome:
        assert event.reference is not None  # the adapters refuse a paid order without one
        # Any request this shop made for the order (kept as long as requests are, whatever
        # event asked): a shop's event ids are not signed, a replay may carry a new one.
        asked = HistoryFilter(reference=event.reference, created_by=SHOPS[event.source].id)
        earlier = [r.number for r in history.latest(self.db, workspace_id, asked, limit=1).rows]
        key = f"order:{event.source}:{event.event_id}"
        with self.db.read() as session:
            policy = loading.policy(session, workspace_id)
            # This event's own request, made by a delivery that stopped before settling.
            mine = creation_keys.request_number(session, workspace_id, key)
        if mine is not None:
            return TriggerOutcome("created", numbers=(mine,))
        if earlier:
            return TriggerOutcome("skipped", f"already asked for this order (#{earlier[0]})")
        if not (event.phone or event.email):
            return TriggerOutcome("skipped", NO_CONTACT)
        name, phone, email = event.name, event.phone, event.email
        claim = _claim(workspace_id, event, self.clock.now())
        first: DomainError | None = None  # the reason told when no retry helps
        while True:
            try:
                data = _request(event, policy, name, phone, email)
                request = self.creating.create(
                    workspace_id, data, SHOPS[event.source], key=key, claim=claim
                )
            except AlreadyCreated as exc:
                return TriggerOutcome("created", numbers=(exc.number,) if exc.number else ())
            except AlreadyAsked as exc:
                return TriggerOutcome("skipped", str(exc))
            except DomainError as exc:
                named = isinstance(exc, InvalidInput) and exc.field == "name"
                first = first or (None if named else exc)
                # A name that can't be used: "customer"; an unusable phone with an email (or
                # the other way round): the other one.
                if named and name:
                    name = None
                elif isinstance(exc, InvalidInput) and exc.field == "phone" and phone and email:
                    phone = None
                elif isinstance(exc, InvalidInput) and exc.field == "email" and phone and email:
                    email = None
                else:
                    return TriggerOutcome("skipped", _masked(first or exc, event))
                continue
            return TriggerOutcome("created", numbers=(request.number,))

    def _cancel(self, workspace_id: int, event: OrderEvent) -> TriggerOutcome:
        with self.db.read() as session:
            references = trigger_events.references(
                session, workspace_id, event.source, event.order_keys
            )
        if not references:
            return TriggerOutcome("nothing", "no request was asked for this order")
        numbers: set[int] = set()
        for reference in references:
            found = history.latest(
                self.db, workspace_id, HistoryFilter(reference=reference), limit=CANCEL_AT_MOST
            )
            numbers.update(r.number for r in found.rows)
        result = self.lifecycle.cancel(workspace_id, sorted(numbers), SHOPS[event.source])
        if not result.changed:
            return TriggerOutcome("nothing", f"nothing was waiting for {references[0]}")
        return TriggerOutcome("canceled", numbers=tuple(result.changed))


def _claim(workspace_id: int, event: OrderEvent, now: datetime) -> Callable[[Session], None]:
    """Take the order in the creating transaction: by every id the shop knows it by and by its
    reference, so two events of one order (a redelivery under a new id, a checkout then its
    invoice), even at the same moment, ask its customer once.

    :raise AlreadyAsked: a request was made for the order (or one of its ids) already.
    """
    assert event.reference is not None  # the adapters refuse a paid order without one
    shop, reference = SHOPS[event.source].id, event.reference

    def claim(session: Session) -> None:
        known = trigger_events.claim_order(
            session, workspace_id, event.source, event.order_keys, reference, now
        )
        number = trigger_events.asked(session, workspace_id, [reference, *known], shop)
        if number is not None:
            raise AlreadyAsked(number)

    return claim


def _request(
    event: OrderEvent,
    policy: WorkspacePolicy,
    name: str | None,
    phone: str | None,
    email: str | None,
) -> RequestCreate:
    """The request an order asks for, as if typed (the input model bounds every field).

    :raise InvalidInput: a field the input model refuses (naming it).
    """
    return RequestCreate(
        name=(name or "")[:CUSTOMER_NAME_MAX],
        phone=phone,
        email=email,
        reference=event.reference,
        review_type=policy.order_review_type,
        delay=parse_delay(policy.order_delay) if policy.order_delay else None,
        origin="order",
        consent=event.consent,
    )


def _masked(exc: DomainError, event: OrderEvent) -> str:
    """A refusal's words without the customer's name, phone or email (the list shows it)."""
    if isinstance(exc, Conflict):  # the cooldown's words name the customer
        earlier = re.search(r"#\d+", exc.message)
        return "the customer was asked within the cooldown" + (
            f" ({earlier.group()})" if earlier else ""
        )
    text = exc.message
    if event.phone:
        text = text.replace(event.phone, mask_phone(event.phone) or "the phone")
    if event.email:
        text = text.replace(event.email, mask_email(event.email) or "the email")
    return text
