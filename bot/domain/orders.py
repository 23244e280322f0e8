"""A shop's order events in our words: the webhook adapters translate Shopify and Stripe here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# A provider's id of an event, an order or a payment: theirs are well under this.
PROVIDER_ID_MAX = 100
# A customer's field as a shop sends it (name, phone, email): cut before any rule reads it;
# the input model (bot/usecases/inputs.py) then refuses what is still too long for its column.
CUSTOMER_FIELD_MAX = 400


class OrderKind(StrEnum):
    PAID = "paid"  # fulfilled or paid: the customer can be asked for a review
    REFUNDED = "refunded"  # cancel what still waits for that order
    OTHER = "other"  # an event the trigger does not act on (acknowledged, nothing done)


class UnreadableOrder(ValueError):  # noqa: N818  (a refusal with the reason, as ValueError)
    """A signed event that is not of the shape its provider documents: the reason, short."""


@dataclass(frozen=True)
class OrderEvent:
    """One shop event: which order, and for a paid order, the customer to ask.

    `order_keys` are the provider's ids of the order a refund may name later (a Shopify order
    id; a Stripe payment intent or invoice); `reference` is what the team sees (`#1001`).
    """

    source: str  # shopify, stripe
    event_id: str
    kind: OrderKind
    order_keys: tuple[str, ...] = ()
    reference: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    # The shop recorded the customer's agreement to be contacted (marketing consent).
    consent: bool = False


# The shops whose order events trigger requests, and the events each sends us.
SHOP_EVENTS = {
    "shopify": ("orders/fulfilled", "refunds/create"),
    "stripe": (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "invoice.paid",
        "charge.refunded",
    ),
}


# How the shops and an event's outcome are named to the team (Slack's list and the CLI).
SHOP_NAMES = {"shopify": "Shopify", "stripe": "Stripe"}
OUTCOME_WORDS = {
    "created": "asked",
    "skipped": "skipped",
    "canceled": "canceled",
    "nothing": "nothing to do",
    "pending": "in progress",
}


def event_title(source: str, kind: str, reference: str | None) -> str:
    """ "Shopify order #1001", "Stripe refund pi_123": which shop, what, which order."""
    what = "refund" if kind == OrderKind.REFUNDED else "order"
    return f"{SHOP_NAMES.get(source, source)} {what}" + (f" {reference}" if reference else "")


def webhook_url(public_url: str, source: str, team_id: str) -> str:
    """The address a workspace gives a shop for its order events."""
    return f"{public_url.rstrip('/')}/webhooks/{source}/{team_id}"


def provider_id(value: object) -> str | None:
    """A provider's id from its JSON (text or number), or None if missing or absurd."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if 0 < len(value) <= PROVIDER_ID_MAX else None


def customer_field(value: object) -> str | None:
    """A customer's text field from a shop's JSON, bounded; None if missing or not text."""
    if not isinstance(value, str):
        return None
    value = value[:CUSTOMER_FIELD_MAX].strip()
    return value or None


def first(*values: str | None) -> str | None:
    """The first value given."""
    return next((v for v in values if v), None)
