# ruff: noqa: F811  (pytest fixtures imported by name and used as arguments)
"""Order triggers end to end over HTTP: Shopify and Stripe events posted, signed for real, to the
running app; what was created, skipped and canceled, and what was refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
import stripe
from sqlmodel import select

from bot.clock import FrozenClock
from bot.domain.policy import WorkspacePolicy
from bot.usecases.actors import Actor
from bot.usecases.inputs import RequestCreate
from store.integration_models import TriggerEvent
from store.models import ReviewRequest
from store.trigger_events import take
from tests.helpers import ALICE
from tests.slack_harness import TEAM_ID
from tests.test_slack_oauth import Installed, install, served  # noqa: F401
from tests.test_trust_tenant_install import UNINSTALLED, served_event
from tests.test_webhooks_twilio import PHONE, Web, running

SHOPIFY_SECRET = "shpss_0123456789abcdef0123456789abcdef"
STRIPE_SECRET = "whsec_test_0123456789abcdef0123456789"
EMAIL = "jane@example.com"


@pytest.fixture
def web(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    with running(
        database_url,
        clock,
        cooldown_days=0,
        shopify_secret=SHOPIFY_SECRET,
        stripe_secret=STRIPE_SECRET,
    ) as served:
        yield served


# --- what the shops send ------------------------------------------------------------------------


def shopify_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": 820982911946154508,
        "name": "#1001",
        "email": EMAIL,
        "phone": None,
        "buyer_accepts_marketing": False,
        "customer": {"id": 115310627314723954, "first_name": "Jane", "last_name": "Doe"},
        "shipping_address": {"name": "Jane Doe", "phone": "+33 6 15 55 01 00"},
        "line_items": [{"id": 1, "title": "Bike", "quantity": 1}],
    }
    return order | changes


def shopify_refund(order_id: int = 820982911946154508) -> dict[str, Any]:
    return {"id": 509562969, "order_id": order_id, "refund_line_items": []}


def post_shopify(
    web: Web | Installed,
    payload: Any,
    *,
    topic: str = "orders/fulfilled",
    webhook_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    secret: str = SHOPIFY_SECRET,
    team: str = "T0001",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    raw = body if body is not None else json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    sent = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Shop-Domain": "acme-bikes.myshopify.com",
        "X-Shopify-Webhook-Id": webhook_id,
        **(headers or {}),
    }
    return requests.post(f"{web.url}/webhooks/shopify/{team}", data=raw, headers=sent, timeout=5)


def stripe_event(kind: str, obj: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}


def checkout(**changes: Any) -> dict[str, Any]:
    session: dict[str, Any] = {
        "id": "cs_test_a1",
        "object": "checkout.session",
        "payment_status": "paid",
        "payment_intent": "pi_3A",
        "client_reference_id": "ORDER-77",
        "customer_details": {"email": EMAIL, "name": "Jane Doe", "phone": PHONE},
    }
    return session | changes


def post_stripe(
    web: Web,
    event: dict[str, Any],
    *,
    secret: str = STRIPE_SECRET,
    timestamp: int | None = None,
    body: str | None = None,
    team: str = "T0001",
) -> requests.Response:
    payload = body if body is not None else json.dumps(event)
    # Stripe's tolerance is checked by the stripe library against the real time.
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp or int(time.time())
    )
    return requests.post(
        f"{web.url}/webhooks/stripe/{team}",
        data=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
        timeout=5,
    )


def requests_made(web: Web | Installed) -> list[ReviewRequest]:
    with web.app.db.read() as session:
        return list(session.exec(select(ReviewRequest).order_by(ReviewRequest.number)).all())


def trigger_events(web: Web) -> list[TriggerEvent]:
    with web.app.db.read() as session:
        return list(session.exec(select(TriggerEvent).order_by(TriggerEvent.id)).all())


def set_policy(web: Web, **values: Any) -> None:
    current = web.ops.policy(web.ws)
    web.ops.update_policy(
        web.ws, WorkspacePolicy.model_validate({**current.model_dump(), **values}), ALICE
    )


# --- Shopify ----------------------------------------------------------------------------------


def test_shopify_fulfilled_order_asks_its_customer_once(web: Web) -> None:
    answer = post_shopify(web, shopify_order())
    assert answer.status_code == 200
    assert answer.json() == {"outcome": "created", "requests": [1]}
    [made] = requests_made(web)
    assert (made.reference, made.customer_name, made.phone) == ("#1001", "Jane Doe", PHONE)
    assert (made.origin, made.created_by, made.email) == ("order", "shopify", EMAIL)
    assert [e.actor for e in web.events(1, "created")] == ["shopify"]
    assert web.send_all() == 1
    assert [m["To"] for m in web.twilio.messages] == [PHONE]

    # Shopify delivers the same event again (same webhook id): nothing new, nothing sent twice.
    again = post_shopify(web, shopify_order())
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert len(requests_made(web)) == 1
    web.send_all()
    assert len(web.twilio.messages) == 1

    # Another event about the same order (a second fulfillment) asks nobody again.
    other = post_shopify(web, shopify_order(), webhook_id="another-delivery")
    assert other.json()["outcome"] == "skipped"
    assert len(requests_made(web)) == 1
    assert "already asked for this order (#1)" in (trigger_events(web)[-1].reason or "")


def test_shopify_refund_cancels_what_waits_for_the_order(web: Web) -> None:
    set_policy(web, delay="1d")
    assert post_shopify(web, shopify_order()).json()["outcome"] == "created"
    refund = post_shopify(web, shopify_refund(), topic="refunds/create", webhook_id="r-1")
    assert refund.json() == {"outcome": "canceled", "requests": [1]}
    assert [m.status for m in web.messages(1)] == ["canceled"]
    assert [e.actor for e in web.events(1, "canceled")] == ["shopify"]
    assert web.changes("canceled")[0].text == "Canceled by Shopify"
    # A repeated refund delivery is a duplicate; a later one finds nothing waiting.
    assert post_shopify(web, shopify_refund(), topic="refunds/create", webhook_id="r-1").json()[
        "outcome"
    ] == ("duplicate")
    later = post_shopify(web, shopify_refund(), topic="refunds/create", webhook_id="r-2")
    assert later.json()["outcome"] == "nothing"
    assert web.send_all() == 0
    assert web.twilio.messages == []


def test_shopify_refund_of_an_unknown_order_does_nothing(web: Web) -> None:
    answer = post_shopify(web, shopify_refund(42), topic="refunds/create")
    assert answer.json() == {"outcome": "nothing", "requests": []}
    assert trigger_events(web)[0].reason == "no request was asked for this order"


def test_shopify_other_topics_are_acknowledged_and_ignored(web: Web) -> None:
    answer = post_shopify(web, shopify_order(), topic="orders/create")
    assert answer.json()["outcome"] == "ignored"
    assert requests_made(web) == [] and trigger_events(web) == []


def test_order_without_usable_contact_is_skipped_with_its_reason(web: Web) -> None:
    bare = shopify_order(email=None, customer={"first_name": "Jane"}, shipping_address={})
    answer = post_shopify(web, bare)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "skipped"
    [event] = trigger_events(web)
    assert (event.outcome, event.reference) == ("skipped", "#1001")
    assert event.reason == "no phone number or email address on the order"
    assert requests_made(web) == []
    assert web.changes() == []  # no alert, no card: one line in /reviews list orders

    # A bad phone with a good email: the email is used.
    mixed = shopify_order(
        id=2, name="#1002", shipping_address={"phone": "12"}, email="joe@example.com"
    )
    assert post_shopify(web, mixed, webhook_id="w-2").json()["outcome"] == "created"
    assert requests_made(web)[0].email == "joe@example.com"
    assert requests_made(web)[0].phone is None

    # A bad phone and no email: skipped, the reason without the number as sent.
    only_bad = shopify_order(id=3, name="#1003", email=None, shipping_address={"phone": "12345"})
    assert post_shopify(web, only_bad, webhook_id="w-3").json()["outcome"] == "skipped"
    reason = trigger_events(web)[-1].reason or ""
    assert "phone" in reason and "12345" not in reason
    assert web.ops.orders.skipped_lately(web.ws) == 2


def test_the_rules_of_a_request_from_slack_apply(web: Web) -> None:
    """Opt-outs, the cooldown and the consent rule hold for triggered requests too."""
    set_policy(web, cooldown_days=30, method="sms")
    assert post_shopify(web, shopify_order()).json()["outcome"] == "created"
    second = shopify_order(id=2, name="#1002")
    assert post_shopify(web, second, webhook_id="w-2").json()["outcome"] == "skipped"
    assert trigger_events(web)[-1].reason == "the customer was asked within the cooldown (#1)"

    set_policy(web, cooldown_days=0, require_consent=True)
    third = shopify_order(id=3, name="#1003")
    assert post_shopify(web, third, webhook_id="w-3").json()["outcome"] == "skipped"
    assert "require_consent" in (trigger_events(web)[-1].reason or "")
    agreed = shopify_order(id=4, name="#1004", buyer_accepts_marketing=True)
    assert post_shopify(web, agreed, webhook_id="w-4").json()["outcome"] == "created"
    assert requests_made(web)[-1].consent_by == "shopify"

    web.send_all()
    assert web.inbound("STOP") == 200
    fifth = shopify_order(id=5, name="#1005", buyer_accepts_marketing=True)
    assert post_shopify(web, fifth, webhook_id="w-5").json()["outcome"] == "skipped"
    reason = trigger_events(web)[-1].reason or ""
    assert "opted out" in reason and PHONE not in reason
    assert len(requests_made(web)) == 2


def test_shopify_forged_and_unsigned_deliveries_are_refused(web: Web) -> None:
    assert post_shopify(web, shopify_order(), secret="wrong").status_code == 401
    unsigned = post_shopify(web, shopify_order(), headers={"X-Shopify-Hmac-Sha256": ""})
    assert unsigned.status_code == 401
    # The signature of another body: the body was changed on the way.
    raw = json.dumps(shopify_order()).encode()
    digest = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest())
    changed = post_shopify(
        web,
        None,
        body=json.dumps(shopify_order(email="eve@example.com")).encode(),
        headers={"X-Shopify-Hmac-Sha256": digest.decode()},
    )
    assert changed.status_code == 401
    assert requests_made(web) == [] and trigger_events(web) == []


def test_unknown_team_missing_secret_and_bad_signature_are_answered_alike(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    # A caller without the secret learns nothing of which workspaces exist: one 401 for all.
    paid = stripe_event("checkout.session.completed", checkout())
    answers = [
        post_shopify(web, shopify_order(), team="T9999"),
        post_stripe(web, stripe_event("invoice.paid", {}), team="T9999"),
        post_shopify(web, shopify_order(), team="T" * 200),
        post_shopify(web, shopify_order(), secret="wrong"),
        post_stripe(web, paid, secret="whsec_wrong"),
        requests.post(f"{web.url}/webhooks/stripe/T0001", data=b"{}", timeout=5),
        requests.post(f"{web.url}/webhooks/stripe/T0001", data=b"\xff{}", timeout=5),
    ]
    set_policy(web, shopify_secret="", stripe_secret="")
    answers += [post_shopify(web, shopify_order()), post_stripe(web, paid)]
    assert [(a.status_code, a.text) for a in answers] == [(401, "invalid signature\n")] * 9
    assert requests_made(web) == [] and trigger_events(web) == []
    for detail in (
        "unknown or uninstalled workspace",
        "no Shopify secret is set",
        "no Stripe secret is set",
        "no Stripe-Signature header",
        "the signature does not match",
        "the body is not UTF-8",
    ):
        assert detail in caplog.text  # the log says which


def test_a_trigger_switched_off_creates_nothing(web: Web) -> None:
    set_policy(web, shopify_orders=False, stripe_orders=False)
    answer = post_shopify(web, shopify_order())
    assert (answer.status_code, answer.json()) == (200, {"outcome": "trigger off"})
    stripe_answer = post_stripe(web, stripe_event("checkout.session.completed", checkout()))
    assert stripe_answer.json() == {"outcome": "trigger off"}
    # Still verified first: a forged delivery is refused, switched off or not.
    assert post_shopify(web, shopify_order(), secret="wrong").status_code == 401
    assert requests_made(web) == [] and trigger_events(web) == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"not json", {}, 400, "body is not JSON"),
        (b"[1, 2]", {}, 400, "expected a JSON object"),
        (json.dumps({"id": 5}).encode(), {}, 400, "missing the order's id or name"),
        (json.dumps(shopify_order()).encode(), {"X-Shopify-Webhook-Id": ""}, 400, "missing"),
        (json.dumps({"id": 1, "name": "#1", "x": "a" * 1_100_000}).encode(), {}, 413, "too large"),
    ],
)
def test_shopify_bad_payloads_are_refused_with_a_reason(
    web: Web, body: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    answer = post_shopify(web, None, body=body, headers=headers)
    assert answer.status_code == status
    assert reason in answer.text
    assert requests_made(web) == [] and trigger_events(web) == []


# --- Stripe -----------------------------------------------------------------------------------


def test_stripe_checkout_asks_and_a_refund_cancels(web: Web) -> None:
    set_policy(web, delay="1d")
    answer = post_stripe(web, stripe_event("checkout.session.completed", checkout()))
    assert answer.json() == {"outcome": "created", "requests": [1]}
    [made] = requests_made(web)
    assert (made.reference, made.created_by, made.origin) == ("ORDER-77", "stripe", "order")
    # Stripe retries the same event: nothing new.
    again = post_stripe(web, stripe_event("checkout.session.completed", checkout()))
    assert again.json()["outcome"] == "duplicate"
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_3A", "refunded": True}
    refund = post_stripe(web, stripe_event("charge.refunded", charge, "evt_2"))
    assert refund.json() == {"outcome": "canceled", "requests": [1]}
    assert [m.status for m in web.messages(1)] == ["canceled"]


def test_stripe_paid_invoice_asks_and_unpaid_checkout_waits(web: Web) -> None:
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "number": "ACME-0007",
        "customer_email": "Joe@Example.com",
        "customer_name": "Joe",
        "customer_phone": None,
    }
    answer = post_stripe(web, stripe_event("invoice.paid", invoice, "evt_9"))
    assert answer.json()["outcome"] == "created"
    made = requests_made(web)[0]
    assert (made.reference, made.email, made.customer_name) == (
        "ACME-0007",
        "Joe@example.com",
        "Joe",
    )
    unpaid = checkout(id="cs_2", payment_status="unpaid", client_reference_id="ORDER-78")
    assert post_stripe(web, stripe_event("checkout.session.completed", unpaid, "evt_10")).json()[
        "outcome"
    ] == ("ignored")
    assert len(requests_made(web)) == 1


def test_stripe_forged_and_replayed_events_are_refused(web: Web) -> None:
    event = stripe_event("checkout.session.completed", checkout())
    assert post_stripe(web, event, secret="whsec_wrong").status_code == 401
    stale = post_stripe(web, event, timestamp=int(time.time()) - 301)
    assert (stale.status_code, stale.text.strip()) == (401, "signature too old")
    unsigned = requests.post(
        f"{web.url}/webhooks/stripe/T0001", data=json.dumps(event).encode(), timeout=5
    )
    assert unsigned.status_code == 401
    assert requests_made(web) == [] and trigger_events(web) == []


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ("{not json", 400, "body is not JSON"),
        (json.dumps({"id": "evt_1", "type": "invoice.paid"}), 400, "expected a Stripe event"),
        (json.dumps(stripe_event("invoice.paid", {"number": "A-1"})), 400, "invoice's id"),
        (json.dumps(stripe_event("charge.refunded", {})), 400, "charge's id"),
        (json.dumps({"id": "evt_1", "pad": "a" * 300_000}), 413, "too large"),
    ],
)
def test_stripe_bad_payloads_are_refused_with_a_reason(
    web: Web, body: str, status: int, reason: str
) -> None:
    answer = post_stripe(web, {}, body=body)
    assert answer.status_code == status
    assert reason in answer.text
    assert requests_made(web) == [] and trigger_events(web) == []


# --- workspaces installed by OAuth ------------------------------------------------------------


def test_an_uninstalled_workspace_takes_no_order(served: Installed) -> None:
    assert install(served).status_code == 200
    workspace = served.app.ops.workspaces.find_workspace(TEAM_ID)
    current = served.app.ops.policy(workspace.id)
    served.app.ops.update_policy(
        workspace.id, current.model_copy(update={"shopify_secret": SHOPIFY_SECRET}), ALICE
    )
    assert post_shopify(served, shopify_order(), team=TEAM_ID).json()["outcome"] == "created"

    assert served_event(served, UNINSTALLED) == 200
    again = post_shopify(served, shopify_order(id=2, name="#1002"), team=TEAM_ID, webhook_id="w-2")
    assert (again.status_code, again.text.strip()) == (401, "invalid signature")
    assert [r.reference for r in requests_made(served)] == ["#1001"]


# --- deliveries at the same time, and one that stopped half way -------------------------------


def test_two_deliveries_of_one_event_at_once_create_one_request(web: Web) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: post_shopify(web, shopify_order()), range(4)))
    assert all(a.status_code == 200 for a in answers)
    outcomes = sorted(a.json()["outcome"] for a in answers)
    assert outcomes.count("created") >= 1 and set(outcomes) <= {"created", "duplicate"}
    assert len(requests_made(web)) == 1
    assert {tuple(a.json()["requests"]) for a in answers if a.json()["outcome"] == "created"} == {
        (1,)
    }


def test_a_delivery_that_stopped_half_way_is_finished_by_the_retry(web: Web) -> None:
    # A worker took the event and died before settling it: its row is still pending.
    with web.app.db.write() as session:
        take(
            session,
            web.ws,
            source="shopify",
            event_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            kind="paid",
            reference="#1001",
            now=web.clock.now(),
        )
    answer = post_shopify(web, shopify_order())
    assert answer.json() == {"outcome": "created", "requests": [1]}
    assert [e.outcome for e in trigger_events(web)] == ["created"]


def test_a_delivery_that_died_after_creating_is_settled_as_created_by_the_retry(web: Web) -> None:
    # The first delivery created #1 under its key, then died before settling its event.
    with web.app.db.write() as session:
        take(
            session,
            web.ws,
            source="shopify",
            event_id="e-1",
            kind="paid",
            reference="#1001",
            now=web.clock.now(),
        )
    data = RequestCreate(name="Jane Doe", phone=PHONE, reference="#1001", origin="order")
    web.ops.create(web.ws, data, Actor("shopify", "Shopify"), key="order:shopify:e-1")
    answer = post_shopify(web, shopify_order(), webhook_id="e-1")
    assert answer.json() == {"outcome": "created", "requests": [1]}
    assert len(requests_made(web)) == 1


def test_a_triggered_request_takes_the_order_delay_and_review_type(web: Web) -> None:
    set_policy(web, delay="1h", order_delay="3d", order_review_type="product")
    assert post_shopify(web, shopify_order()).json()["outcome"] == "created"
    [made] = requests_made(web)
    assert made.scheduled_at == web.clock.now() + timedelta(days=3)
    assert made.review_type == "product"
    # Without an order delay, the workspace's delay.
    set_policy(web, order_delay="")
    assert post_stripe(web, stripe_event("checkout.session.completed", checkout())).status_code == (
        200
    )
    assert requests_made(web)[-1].scheduled_at == web.clock.now() + timedelta(hours=1)


def test_a_captured_delivery_replayed_under_a_new_event_id_asks_nobody_again(web: Web) -> None:
    """Shopify signs the body only: a replay may carry any event id, even months later."""
    assert post_shopify(web, shopify_order()).json()["outcome"] == "created"
    web.clock.advance(timedelta(days=120))  # past the 90 days events are kept
    replay = post_shopify(web, shopify_order(), webhook_id="forged-new-id")
    assert replay.json()["outcome"] == "skipped"
    assert len(requests_made(web)) == 1
    assert [e.event_id for e in trigger_events(web)] == ["forged-new-id"]  # the old one purged
