"""Order trigger settings: the webhook addresses in the settings form, secrets write-only
(never shown back in Slack, `settings show` or the CLI, masked in the audit), switches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.usecases.audit import MASK
from handlers.blocks.limits import assert_within_limits
from store.audit import AuditFilter
from tests.helpers import cli_invoker
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    TEAM_ID,
    SlackHarness,
    chose,
    slack_fixture,
    text_of,
    typed,
)
from tests.test_settings_modal import open_form, submit, ticked

SECRET = "shpss_0123456789abcdef0123456789abcdef"
STRIPE = "whsec_test_0123456789abcdef"


def field(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def radio(value: str) -> dict[str, Any]:
    return {"type": "radio_buttons", "selected_option": {"value": value}}


def test_the_form_shows_each_shops_address_and_whether_a_secret_is_set(
    slack: SlackHarness,
) -> None:
    view = open_form(slack)
    assert_within_limits(view, kind="modal")
    shown = text_of(view)
    assert f"https://reviews.example.test/webhooks/shopify/{TEAM_ID}" in shown
    assert f"https://reviews.example.test/webhooks/stripe/{TEAM_ID}" in shown
    assert "orders/fulfilled" in shown and "charge.refunded" in shown
    assert "Not set" in field(view, "shopify_secret")["hint"]["text"]
    assert all(b.get("block_id") != "remove_secrets" for b in view["blocks"])

    changes = {"order_delay": typed("1w"), "order_review_type": chose("product")}
    saved = submit(slack, view, shopify_secret=typed(SECRET), stripe_orders=radio("off"), **changes)
    assert saved is None
    policy = slack.ops.policy(slack.ws)
    assert (policy.order_delay, policy.order_review_type) == ("1w", "product")
    assert (policy.shopify_secret, policy.stripe_orders, policy.shopify_orders) == (
        SECRET,
        False,
        True,
    )

    again = open_form(slack)
    secret_field = field(again, "shopify_secret")
    assert "initial_value" not in secret_field["element"]
    assert "Set (hidden)" in secret_field["hint"]["text"]
    assert SECRET not in str(again)
    # Saving the form with the secret field left empty keeps the secret.
    assert submit(slack, again, business_name=typed("Renamed")) is None
    assert slack.ops.policy(slack.ws).shopify_secret == SECRET


def test_a_secret_is_removed_only_when_asked_and_not_while_typing_a_new_one(
    slack: SlackHarness,
) -> None:
    slack.set_policy(shopify_secret=SECRET, stripe_secret=STRIPE)
    view = open_form(slack)
    both = submit(slack, view, shopify_secret=typed("new"), remove_secrets=ticked("shopify"))
    assert both["response_action"] == "errors"
    assert "not both" in both["errors"]["shopify_secret"]
    assert slack.ops.policy(slack.ws).shopify_secret == SECRET

    spaced = submit(slack, view, stripe_secret=typed("whsec_a b"))
    assert "no spaces" in spaced["errors"]["stripe_secret"]
    late = submit(slack, view, order_delay=typed("soon"))
    assert set(late["errors"]) == {"order_delay"}
    assert slack.ops.policy(slack.ws).order_delay == ""

    assert submit(slack, view, remove_secrets=ticked("shopify")) is None
    policy = slack.ops.policy(slack.ws)
    assert (policy.shopify_secret, policy.stripe_secret) == ("", STRIPE)


def test_settings_show_and_the_audit_never_show_a_secret(slack: SlackHarness) -> None:
    slack.post_command(f"settings set shopify_secret={SECRET} stripe_orders=off", user=ADMIN)
    assert "Settings saved" in text_of(slack.answer())
    policy = slack.ops.policy(slack.ws)
    assert (policy.shopify_secret, policy.stripe_orders) == (SECRET, False)
    slack.post_command("settings show", user=ADMIN)
    shown = text_of(slack.answer())
    assert "`shopify_secret` set (hidden)" in shown
    assert "`stripe_secret` -" in shown and "`stripe_orders` off" in shown
    assert SECRET not in shown
    entries = slack.ops.audit.page(slack.ws, AuditFilter(action="settings")).rows
    [entry] = [e for e in entries if e.target == "shopify_secret"]
    assert entry.detail == {"old": "", "new": MASK}
    assert SECRET not in str([e.detail for e in entries])


def test_the_cli_sets_switches_and_masks_secrets(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    invoke = cli_invoker(slack.app.settings.database_url, monkeypatch, tmp_path)
    result = invoke("settings", "set", f"stripe_secret={STRIPE}", "shopify_orders=off")
    assert result.exit_code == 0, result.output
    shown = invoke("settings", "show").output
    assert "set (hidden)" in shown and STRIPE not in shown
    refused = invoke("settings", "set", "shopify_orders=maybe")
    assert refused.exit_code == 2 and "shopify_orders is on or off" in refused.output
