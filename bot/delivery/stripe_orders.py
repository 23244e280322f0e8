"""Stripe's events in our words: a completed checkout or a paid invoice asks, a refund cancels."""

from __future__ import annotations

from typing import Any

from bot.domain.orders import (
    OrderEvent,
    OrderKind,
    UnreadableOrder,
    customer_field,
    first,
    provider_id,
)

SOURCE = "stripe"
PAID_CHECKOUT = ("paid", "no_payment_required")  # not "unpaid": a delayed method pays later
# A checkout paid at once completes paid; one paid by a delayed method (a bank debit) completes
# "unpaid", then succeeds: both ask, once (the order's ids are claimed: bot/usecases/orders.py).
CHECKOUT_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


def order_event(payload: Any) -> OrderEvent:
    """Translate a Stripe event (its JSON body, already verified).

    :raise UnreadableOrder: not an event, or its object lacks what its type documents.
    """
    if not isinstance(payload, dict):
        raise UnreadableOrder("expected a JSON object")
    event_id = provider_id(payload.get("id"))
    kind = payload.get("type")
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if event_id is None or not isinstance(kind, str) or not isinstance(obj, dict):
        raise UnreadableOrder("expected a Stripe event: id, type and data.object")
    if kind in CHECKOUT_EVENTS:
        return _checkout(event_id, obj)
    if kind == "invoice.paid":
        return _invoice(event_id, obj)
    if kind == "charge.refunded":
        keys = _keys(obj.get("payment_intent"), obj.get("invoice"), obj.get("id"))
        if not keys:
            raise UnreadableOrder("missing the charge's id")
        return OrderEvent(SOURCE, event_id, OrderKind.REFUNDED, order_keys=keys)
    return OrderEvent(SOURCE, event_id, OrderKind.OTHER)


def _checkout(event_id: str, session: dict[str, Any]) -> OrderEvent:
    session_id = provider_id(session.get("id"))
    if session_id is None:
        raise UnreadableOrder("missing the checkout session's id")
    if session.get("payment_status") not in PAID_CHECKOUT:
        return OrderEvent(SOURCE, event_id, OrderKind.OTHER)
    details = session.get("customer_details")
    details = details if isinstance(details, dict) else {}
    consent = session.get("consent")
    promotions = consent.get("promotions") if isinstance(consent, dict) else None
    return OrderEvent(
        SOURCE,
        event_id,
        OrderKind.PAID,
        order_keys=_keys(session.get("payment_intent"), session.get("invoice"), session_id),
        reference=first(provider_id(session.get("client_reference_id")), session_id),
        name=customer_field(details.get("name")),
        phone=customer_field(details.get("phone")),
        email=first(
            customer_field(details.get("email")), customer_field(session.get("customer_email"))
        ),
        consent=promotions == "opt_in",
    )


def _invoice(event_id: str, invoice: dict[str, Any]) -> OrderEvent:
    invoice_id = provider_id(invoice.get("id"))
    if invoice_id is None:
        raise UnreadableOrder("missing the invoice's id")
    return OrderEvent(
        SOURCE,
        event_id,
        OrderKind.PAID,
        order_keys=_keys(invoice.get("payment_intent"), invoice_id),
        reference=first(provider_id(invoice.get("number")), invoice_id),
        name=customer_field(invoice.get("customer_name")),
        phone=customer_field(invoice.get("customer_phone")),
        email=customer_field(invoice.get("customer_email")),
    )


def _keys(*values: Any) -> tuple[str, ...]:
    """The ids an order is known by (an id may be an expanded object: its own id then)."""
    keys = []
    for value in values:
        key = provider_id(value.get("id") if isinstance(value, dict) else value)
        if key is not None and key not in keys:
            keys.append(key)
    return tuple(keys)
