"""`/reviews list orders`: what the shops' order events did, skipped orders with their reason,
and the one line `/reviews list` adds about them (no alert per order)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlmodel import select

from handlers.blocks.limits import assert_within_limits
from store.models import SlackOutbox
from tests.helpers import cli_invoker
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    TEAM_ID,
    USER,
    SlackHarness,
    slack_fixture,
    text_of,
)

SECRET = "shpss_list_secret"


def deliver(slack: SlackHarness, topic: str, payload: dict[str, Any], webhook_id: str) -> Any:
    raw = json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    base = slack.url.removesuffix("/slack/events")
    answer = requests.post(
        f"{base}/webhooks/shopify/{TEAM_ID}",
        data=raw,
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": digest,
            "X-Shopify-Webhook-Id": webhook_id,
        },
        timeout=5,
    )
    assert answer.status_code == 200
    return answer.json()


def outbox_rows(slack: SlackHarness) -> int:
    with slack.app.db.read() as session:
        return len(session.exec(select(SlackOutbox)).all())


def order(number: int, **fields: Any) -> dict[str, Any]:
    return {"id": number, "name": f"#{number}", **fields}


def test_list_orders_shows_each_event_and_why_an_order_was_skipped(slack: SlackHarness) -> None:
    slack.set_policy(shopify_secret=SECRET, delay="1d", notify_channel="C0NOTIFY")
    assert deliver(slack, "orders/fulfilled", order(1001), "w1")["outcome"] == "skipped"
    odd = order(1002, email="<!channel>@x", customer={"first_name": "*Eve* <!here>"})
    assert deliver(slack, "orders/fulfilled", odd, "w2")["outcome"] == "skipped"
    assert outbox_rows(slack) == 0  # skipped orders tell nobody: no card, no alert
    made = deliver(slack, "orders/fulfilled", order(1003, phone="+33 6 10 20 30 40"), "w3")
    assert made == {"outcome": "created", "requests": [1]}
    assert deliver(slack, "refunds/create", {"id": 9, "order_id": 1003}, "w4")["outcome"] == (
        "canceled"
    )

    slack.post_command("list orders", user=USER)
    answer = slack.answer()
    assert_within_limits(answer, kind="message")
    shown = text_of(answer)
    assert "Shopify order #1001 · *skipped*: no phone number or email address on the order" in shown
    assert "Shopify order #1003 · *asked* #1" in shown
    assert "Shopify refund · *canceled* #1" in shown
    assert "<!channel>" not in shown and "<!here>" not in shown
    assert "Skipped in the last 7 days: 2" in shown
    assert outbox_rows(slack) > 0  # the request's card and its cancel

    slack.post_command("list", user=USER)
    assert "2 orders were skipped by the order triggers in the last 7 days" in text_of(
        slack.answer()
    )


def test_the_cli_lists_the_same_order_events_in_text_and_json(
    slack: SlackHarness, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    slack.set_policy(shopify_secret=SECRET, delay="1d")
    cli = cli_invoker(database_url, monkeypatch, tmp_path)
    empty = cli("orders")
    assert empty.exit_code == 0 and "No order event yet" in empty.output
    deliver(slack, "orders/fulfilled", order(1001), "w1")
    deliver(slack, "orders/fulfilled", order(1003, phone="+33 6 10 20 30 40"), "w3")

    out = cli("orders")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].endswith("Shopify order #1003  asked #1")  # newest first
    assert lines[1].endswith(
        "Shopify order #1001  skipped: no phone number or email address on the order"
    )
    as_json = json.loads(cli("orders", "--json", "--limit", "1").output)
    assert [(e["reference"], e["outcome"], e["numbers"]) for e in as_json["events"]] == [
        ("#1003", "created", [1])
    ]
    assert cli("orders", "--limit", "0").exit_code == 2


def test_list_orders_before_any_event_says_how_to_set_them_up(slack: SlackHarness) -> None:
    slack.post_command("list orders", user=ADMIN)
    assert "No order event yet" in text_of(slack.answer())
    slack.post_command("list", user=ADMIN)
    assert "skipped by the order triggers" not in text_of(slack.answer())


def test_the_list_says_nothing_of_skipped_orders_once_no_trigger_can_take_one(
    slack: SlackHarness,
) -> None:
    slack.set_policy(shopify_secret=SECRET, delay="1d")
    assert deliver(slack, "orders/fulfilled", order(1001), "w1")["outcome"] == "skipped"
    hint = "1 order was skipped by the order triggers in the last 7 days"
    slack.post_command("list", user=USER)
    assert hint in text_of(slack.answer())
    slack.set_policy(shopify_orders=False)  # the only trigger off: nothing more is taken
    slack.post_command("list", user=USER)
    assert "skipped by the order triggers" not in text_of(slack.answer())
    slack.post_command("list orders", user=USER)  # what it did is still there
    assert "Skipped in the last 7 days: 1" in text_of(slack.answer())
    slack.set_policy(shopify_orders=True)
    slack.post_command("list", user=USER)
    assert hint in text_of(slack.answer())
