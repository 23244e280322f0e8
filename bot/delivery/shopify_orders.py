"""Shopify's order webhooks in our words: `orders/fulfilled` asks, `refunds/create` cancels."""

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

SOURCE = "shopify"
TOPICS = {"orders/fulfilled": OrderKind.PAID, "refunds/create": OrderKind.REFUNDED}


def order_event(topic: str, event_id: str, payload: Any) -> OrderEvent:
    """Translate a Shopify webhook (its topic header, event id header and JSON body).

    :raise UnreadableOrder: the body is not an object, or lacks the order's id or name.
    """
    if not isinstance(payload, dict):
        raise UnreadableOrder("expected a JSON object")
    kind = TOPICS.get(topic.strip().lower(), OrderKind.OTHER)
    if kind is OrderKind.OTHER:
        return OrderEvent(SOURCE, event_id, kind)
    if kind is OrderKind.REFUNDED:
        order_id = provider_id(payload.get("order_id"))
        if order_id is None:
            raise UnreadableOrder("missing order_id")
        return OrderEvent(SOURCE, event_id, kind, order_keys=(order_id,))
    order_id = provider_id(payload.get("id"))
    name = provider_id(payload.get("name"))
    if order_id is None or name is None:
        raise UnreadableOrder("missing the order's id or name")
    customer = _object(payload.get("customer"))
    shipping = _object(payload.get("shipping_address"))
    billing = _object(payload.get("billing_address"))
    return OrderEvent(
        SOURCE,
        event_id,
        kind,
        order_keys=(order_id,),
        reference=name,
        name=first(_full_name(customer), customer_field(shipping.get("name")), _full_name(billing)),
        phone=first(
            customer_field(payload.get("phone")),
            customer_field(customer.get("phone")),
            customer_field(shipping.get("phone")),
            customer_field(billing.get("phone")),
        ),
        email=first(
            customer_field(payload.get("email")),
            customer_field(payload.get("contact_email")),
            customer_field(customer.get("email")),
        ),
        consent=_consented(payload, customer),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _full_name(part: dict[str, Any]) -> str | None:
    names = [customer_field(part.get("first_name")), customer_field(part.get("last_name"))]
    return " ".join(n for n in names if n) or None


def _consented(payload: dict[str, Any], customer: dict[str, Any]) -> bool:
    """The shop recorded marketing consent: the order's checkbox or the customer's state."""
    if payload.get("buyer_accepts_marketing") is True:
        return True
    for key in ("email_marketing_consent", "sms_marketing_consent"):
        state = _object(customer.get(key)).get("state")
        if state == "subscribed":
            return True
    return False
