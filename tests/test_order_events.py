"""Shopify's and Stripe's order payloads in our words: what is read, what is bounded, what is
refused (the adapters' own rules; the routes are tested over HTTP in test_order_triggers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.delivery import shopify_orders, stripe_orders
from bot.domain.orders import CUSTOMER_FIELD_MAX, OrderKind, UnreadableOrder


def test_shopify_reads_the_customer_from_the_order_then_the_customer_then_the_addresses() -> None:
    order = {
        "id": 7,
        "name": "#1007",
        "email": "",
        "contact_email": "jo@example.com",
        "customer": {
            "first_name": "Jo",
            "last_name": "Lee",
            "phone": None,
            "sms_marketing_consent": {"state": "subscribed"},
        },
        "billing_address": {"phone": "+1 415 555 0100"},
    }
    event = shopify_orders.order_event("orders/fulfilled", "e1", order)
    assert (event.kind, event.order_keys, event.reference) == (OrderKind.PAID, ("7",), "#1007")
    assert (event.name, event.phone, event.email) == ("Jo Lee", "+1 415 555 0100", "jo@example.com")
    assert event.consent is True
    assert (
        shopify_orders.order_event("ORDERS/FULFILLED", "e1", order | {"customer": None}).consent
        is False
    )


def test_shopify_bounds_what_a_shop_sends_and_ignores_the_wrong_types() -> None:
    order = {"id": 1, "name": "#1", "email": ["x"], "phone": 5, "customer": "jo"}
    order["shipping_address"] = {"name": "N" * 10_000}
    event = shopify_orders.order_event("orders/fulfilled", "e", order)
    assert (event.email, event.phone) == (None, None)
    assert event.name is not None and len(event.name) == CUSTOMER_FIELD_MAX


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("orders/fulfilled", {"name": "#1"}),
        ("orders/fulfilled", {"id": 1, "name": "x" * 101}),
        ("orders/fulfilled", {"id": True, "name": "#1"}),
        ("refunds/create", {"id": 5}),
        ("refunds/create", []),
    ],
)
def test_shopify_refuses_an_order_it_cannot_name(topic: str, payload: Any) -> None:
    with pytest.raises(UnreadableOrder):
        shopify_orders.order_event(topic, "e", payload)


def test_stripe_reads_expanded_objects_and_keeps_every_id_a_refund_may_name() -> None:
    session = {
        "id": "cs_1",
        "payment_status": "no_payment_required",
        "payment_intent": {"id": "pi_1", "object": "payment_intent"},
        "invoice": "in_1",
        "customer_email": "a@example.com",
        "customer_details": None,
        "consent": {"promotions": "opt_in"},
    }
    event = stripe_orders.order_event(
        {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": session}}
    )
    assert event.order_keys == ("pi_1", "in_1", "cs_1")
    assert (event.reference, event.email, event.consent) == ("cs_1", "a@example.com", True)
    charge = {"id": "ch_1", "payment_intent": None, "invoice": "in_1"}
    refund = stripe_orders.order_event(
        {"id": "evt_2", "type": "charge.refunded", "data": {"object": charge}}
    )
    assert (refund.kind, refund.order_keys) == (OrderKind.REFUNDED, ("in_1", "ch_1"))


def test_stripe_other_events_are_acknowledged_without_reading_them() -> None:
    event = stripe_orders.order_event(
        {"id": "evt_3", "type": "customer.created", "data": {"object": {}}}
    )
    assert event.kind is OrderKind.OTHER
