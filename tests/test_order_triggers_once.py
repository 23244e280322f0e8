"""One order asks its customer once, whatever events name it: the order is claimed by every id
the shop knows it by in the transaction that creates its request, so redeliveries under new
webhook ids at the same moment, or a Stripe subscription checkout and then its invoice, make
one request. A checkout paid later (a delayed payment method) asks when the payment succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.clock import FrozenClock
from tests.test_order_triggers import (
    EMAIL,
    SHOPIFY_SECRET,
    STRIPE_SECRET,
    checkout,
    post_shopify,
    post_stripe,
    requests_made,
    shopify_order,
    stripe_event,
    trigger_events,
)
from tests.test_webhooks_twilio import PHONE, Web, running


@pytest.fixture
def shop(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    """The app over HTTP with both triggers on and no cooldown (the worst case for doubles)."""
    with running(
        database_url,
        clock,
        cooldown_days=0,
        shopify_secret=SHOPIFY_SECRET,
        stripe_secret=STRIPE_SECRET,
    ) as served:
        yield served


def test_deliveries_of_one_order_at_the_same_moment_under_new_ids_ask_once(shop: Web) -> None:
    def deliver(i: int) -> tuple[int, str]:
        answer = post_shopify(shop, shopify_order(), webhook_id=f"id-{i}")
        return answer.status_code, answer.json()["outcome"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(deliver, range(6)))
    [made] = requests_made(shop)
    assert sorted(answers) == [(200, "created")] + [(200, "skipped")] * 5
    skipped = {e.reason for e in trigger_events(shop) if e.outcome == "skipped"}
    assert skipped == {f"already asked for this order (#{made.number})"}


def test_a_subscription_checkout_and_then_its_invoice_ask_once(shop: Web) -> None:
    session = checkout(mode="subscription", invoice="in_1")
    first = post_stripe(shop, stripe_event("checkout.session.completed", session, "evt_a"))
    assert first.json() == {"outcome": "created", "requests": [1]}
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "number": "INV-0001",
        "payment_intent": "pi_3A",
        "customer_email": EMAIL,
        "customer_name": "Jane Doe",
        "customer_phone": PHONE,
    }
    second = post_stripe(shop, stripe_event("invoice.paid", invoice, "evt_b"))
    assert second.json() == {"outcome": "skipped", "requests": []}
    assert trigger_events(shop)[-1].reason == "already asked for this order (#1)"
    assert [m.reference for m in requests_made(shop)] == ["ORDER-77"]


def test_an_order_skipped_for_want_of_a_contact_is_asked_by_a_later_event_that_has_one(
    shop: Web,
) -> None:
    # The checkout had no contact; its invoice, later, has one: the order was never asked.
    session = checkout(invoice="in_2", customer_details={"name": "Jane Doe"})
    first = post_stripe(shop, stripe_event("checkout.session.completed", session, "evt_c"))
    assert first.json()["outcome"] == "skipped"
    invoice = {"id": "in_2", "number": "INV-0002", "customer_email": EMAIL}
    second = post_stripe(shop, stripe_event("invoice.paid", invoice, "evt_d"))
    assert second.json() == {"outcome": "created", "requests": [1]}


def test_a_checkout_paid_by_a_delayed_method_asks_when_the_payment_succeeds(shop: Web) -> None:
    pending = checkout(payment_status="unpaid")
    completed = post_stripe(shop, stripe_event("checkout.session.completed", pending, "evt_e"))
    assert completed.json() == {"outcome": "ignored", "requests": []}
    assert requests_made(shop) == []
    paid = checkout(payment_status="paid")
    succeeded = post_stripe(
        shop, stripe_event("checkout.session.async_payment_succeeded", paid, "evt_f")
    )
    assert succeeded.json() == {"outcome": "created", "requests": [1]}
    [made] = requests_made(shop)
    assert (made.reference, made.email, made.created_by) == ("ORDER-77", EMAIL, "stripe")
