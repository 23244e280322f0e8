"""The workspace settings modal through the real HTTP endpoint and the fake Slack: open, live
SMS estimate, save whole, refuse each invalid value on its own field, admins only."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.templating import sms_segments
from handlers.blocks import common, sms_estimate
from handlers.blocks import settings as settings_blocks
from handlers.blocks.limits import assert_within_limits
from handlers.blocks.settings_messages import SMS_TEXT_ACTION
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    TEAM_ID,
    USER,
    SlackHarness,
    chose,
    slack_fixture,
    text_of,
    typed,
)

EVERY_FIELD = {
    "business_name",
    "timezone",
    "region",
    "language",
    "window_days",
    "window_start",
    "window_end",
    "holidays",
    "quiet_hours",
    "delay",
    "delay_custom",
    "method",
    "reminders",
    "reminder_interval_days",
    "reminder_channel",
    "fallback_email",
    "cooldown_days",
    "landing_service",
    "landing_product",
    "landing_service_en",
    "landing_service_fr",
    "landing_service_sv",
    "landing_product_en",
    "landing_product_fr",
    "landing_product_sv",
    "sms_sender",
    "sms_template",
    "sms_price",
    "email_from_name",
    "email_from",
    "email_reply_to",
    "email_subject",
    "email_body",
    "notify_channel",
    "alert_channel",
    "admins",
    "require_consent",
    "retention_days",
    "shopify_orders",
    "shopify_secret",
    "stripe_orders",
    "stripe_secret",
    "order_delay",
    "order_review_type",
    "events_url",
    "events_secret",
    "digest",
    "digest_time",
    "digest_channel",
}


def state_of(element: dict[str, Any]) -> dict[str, Any]:
    """Return the state Slack submits for an element the user left as it was opened."""
    kind = element["type"]
    if kind in ("static_select", "radio_buttons"):
        return {"type": kind, "selected_option": element.get("initial_option")}
    if kind == "checkboxes":
        return {"type": kind, "selected_options": element.get("initial_options") or []}
    if kind == "timepicker":
        return {"type": kind, "selected_time": element.get("initial_time")}
    if kind == "conversations_select":
        return {"type": kind, "selected_conversation": element.get("initial_conversation")}
    if kind == "multi_users_select":
        return {"type": kind, "selected_users": element.get("initial_users") or []}
    return {"type": kind, "value": element.get("initial_value")}


def unchanged(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: state_of(b["element"]) for b in view["blocks"] if b["type"] == "input"}


def ticked(*values: str) -> dict[str, Any]:
    return {"type": "checkboxes", "selected_options": [{"value": v} for v in values]}


def at(clock_time: str) -> dict[str, Any]:
    return {"type": "timepicker", "selected_time": clock_time}


def open_form(slack: SlackHarness, user: str = ADMIN) -> dict[str, Any]:
    assert slack.post_command("settings", user=user).status_code == 200
    view = slack.opened_view()
    assert view["callback_id"] == "workspace_settings"
    return view


def submit(
    slack: SlackHarness, view: dict[str, Any], user: str = ADMIN, **changes: dict[str, Any]
) -> Any:
    values = {**unchanged(view), **changes}
    response = slack.post_view_submission(view, values, user=user)
    assert response.status_code == 200
    return response.json() if response.text else None


def preview_text(view: dict[str, Any]) -> str:
    (block,) = [b for b in view["blocks"] if b.get("block_id") == "sms_preview"]
    return text_of({"blocks": [block]}).strip()


# --- opening ---------------------------------------------------------------------------------


def test_an_admin_opens_a_form_with_every_setting_filled_in(slack: SlackHarness) -> None:
    slack.set_policy(
        delay="3h",
        landing_urls={"service.fr": "https://g.page/r/acme-fr"},
        notify_channel="C0NOTIFY",
        admins=["U0ALICE"],
    )
    view = open_form(slack)
    assert_within_limits(view, kind="modal")
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert set(inputs) == EVERY_FIELD
    assert inputs["timezone"]["initial_value"] == "Europe/Paris"
    assert inputs["business_name"]["initial_value"] == "Acme"
    assert inputs["delay"]["initial_option"]["value"] == "custom"
    assert inputs["delay_custom"]["initial_value"] == "3h"
    assert [o["value"] for o in inputs["window_days"]["initial_options"]] == [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    ]
    assert (inputs["window_start"]["initial_time"], inputs["window_end"]["initial_time"]) == (
        "09:00",
        "19:00",
    )
    assert inputs["landing_service_fr"]["initial_value"] == "https://g.page/r/acme-fr"
    assert inputs["notify_channel"]["type"] == "conversations_select"
    assert inputs["notify_channel"]["initial_conversation"] == "C0NOTIFY"
    assert inputs["admins"]["initial_users"] == ["U0ALICE"]
    assert inputs["sms_price"]["initial_value"] == "0.045"
    assert inputs["sms_template"]["dispatch_action_config"]["trigger_actions_on"] == [
        "on_character_entered",
        "on_enter_pressed",
    ]
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == [
        "Business",
        "Send window",
        "Timing and method",
        "Landing pages",
        "SMS",
        "Email",
        "Slack",
        "Customer data",
        "Order triggers",
        "Events",
        "Digest",
    ]
    # The default English SMS with a real-length link: one or two segments, priced.
    assert "segment" in preview_text(view) and "EUR per request" in preview_text(view)


def test_a_non_admin_is_refused_the_form_but_may_read_the_settings(slack: SlackHarness) -> None:
    slack.post_command("settings", user=USER)
    refusal = text_of(slack.answer())
    assert "Only workspace admins can change the workspace settings" in refusal
    assert "/reviews settings show" in refusal
    assert slack.fake.calls_to("views.open") == []
    slack.post_command("settings show", user=USER)
    assert "`timezone` Europe/Paris" in text_of(slack.answer())


def test_a_non_admin_submission_is_refused_and_changes_nothing(slack: SlackHarness) -> None:
    view = open_form(slack)
    before = slack.ops.policy(slack.ws)
    answer = submit(slack, view, user=USER, business_name=typed("Hijacked"))
    assert answer["response_action"] == "update"
    assert "Only workspace admins" in text_of(answer["view"])
    assert slack.ops.policy(slack.ws) == before


# --- saving ----------------------------------------------------------------------------------


def test_a_valid_submission_is_stored_whole_and_confirmed(slack: SlackHarness) -> None:
    view = open_form(slack)
    answer = submit(
        slack,
        view,
        business_name=typed("Chez Jane"),
        timezone=typed("America/New_York"),
        region=typed("us"),
        language=chose("sv"),
        window_days=ticked("mon", "tue", "wed", "thu", "fri", "sat"),
        window_start=at("08:30"),
        window_end=at("00:00"),
        holidays=typed("US"),
        delay=chose("custom"),
        delay_custom=typed("3h"),
        method=chose("email"),
        reminders=chose("2"),
        reminder_interval_days=typed("4", "number_input"),
        reminder_channel=chose("email"),
        fallback_email=chose("off", "radio_buttons"),
        cooldown_days=typed("14", "number_input"),
        landing_service=typed("https://g.page/r/jane"),
        landing_product=typed("https://g.page/r/jane-product"),
        landing_service_sv=typed("https://g.page/r/jane-sv"),
        sms_sender=typed("Chez Jane"),
        sms_template=typed("Hej {{ name }}! Tack från {{ business }}."),
        sms_price=typed("0.05", "number_input"),
        email_from_name=typed("Jane at Chez Jane"),
        email_from=typed("reviews@chezjane.example"),
        email_reply_to=typed("jane@chezjane.example"),
        email_subject=typed("{{ business }}: how was it, {{ name }}?"),
        email_body=typed("Hello {{ name }}, tell us: {{ link }}"),
        notify_channel={"type": "conversations_select", "selected_conversation": "C0NOTIFY"},
        alert_channel={"type": "conversations_select", "selected_conversation": "C0ALERTS"},
        admins={"type": "multi_users_select", "selected_users": [USER]},
        require_consent=chose("on", "radio_buttons"),
        retention_days=typed("400", "number_input"),
    )
    assert answer is None  # the modal closes
    policy = slack.ops.policy(slack.ws)
    assert policy.business_name == "Chez Jane"
    assert (policy.timezone, policy.region, policy.language) == ("America/New_York", "US", "sv")
    assert policy.send_window == "mon-sat 08:30-24:00"
    assert (policy.holidays, policy.delay, policy.method) == ("US", "3h", "email")
    assert (policy.reminders, policy.reminder_interval_days, policy.reminder_channel) == (
        2,
        4,
        "email",
    )
    assert (policy.fallback_email, policy.cooldown_days) == (False, 14)
    assert (policy.require_consent, policy.retention_days) == (True, 400)
    assert policy.landing_url("service", "sv") == "https://g.page/r/jane-sv"
    assert policy.landing_url("service", "fr") == "https://g.page/r/jane"
    assert policy.landing_url("product", "en") == "https://g.page/r/jane-product"
    assert policy.landing_urls == {"service.sv": "https://g.page/r/jane-sv"}
    assert (policy.sms_sender, policy.sms_price) == ("Chez Jane", Decimal("0.05"))
    assert policy.sms_template == "Hej {{ name }}! Tack från {{ business }}."
    assert (policy.email_from, policy.email_reply_to) == (
        "reviews@chezjane.example",
        "jane@chezjane.example",
    )
    assert policy.email_subject.startswith("{{ business }}")
    assert (policy.notify_channel, policy.alert_channel, policy.admins) == (
        "C0NOTIFY",
        "C0ALERTS",
        [USER],
    )
    confirmation = text_of(slack.answer())
    assert "Settings saved" in confirmation and "business_name" in confirmation
    # The form shows what was saved, and the new admin may open it.
    reopened = open_form(slack, user=USER)
    assert unchanged(reopened)["window_end"]["selected_time"] == "00:00"
    assert unchanged(reopened)["timezone"]["value"] == "America/New_York"


def test_every_day_all_day_is_the_always_window(slack: SlackHarness) -> None:
    view = open_form(slack)
    every_day = ticked("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert (
        submit(slack, view, window_days=every_day, window_start=at("00:00"), window_end=at("00:00"))
        is None
    )
    assert slack.ops.policy(slack.ws).send_window == "always"


def test_submitting_the_form_unchanged_changes_nothing(slack: SlackHarness) -> None:
    before = slack.ops.policy(slack.ws)
    assert submit(slack, open_form(slack)) is None
    assert slack.ops.policy(slack.ws) == before
    assert "Nothing changed" in text_of(slack.answer())


LONG_SMS = "x" * 111


@pytest.mark.parametrize(
    ("block", "state", "words"),
    [
        ("business_name", typed("B" * 81), "at most 80"),
        ("timezone", typed("Mars/Olympus"), "not a timezone"),
        ("region", typed("XX"), "not a known country code"),
        ("window_days", ticked(), "at least one day"),
        ("window_end", at("08:00"), "end after it starts"),
        ("holidays", typed("ZZ"), "No public holidays are known for 'ZZ'"),
        ("delay_custom", typed("soon"), "'soon' is not a delay"),
        ("reminder_interval_days", typed("0", "number_input"), "greater than or equal to 1"),
        ("cooldown_days", typed("a week", "number_input"), "whole number"),
        ("retention_days", typed("7", "number_input"), "at least 30 days, or 0"),
        ("retention_days", typed("3651", "number_input"), "less than or equal to 3650"),
        ("landing_service", typed("g.page/r/acme"), "is not a web address"),
        ("landing_product_sv", typed("ftp://example.com"), "is not a web address"),
        ("sms_sender", typed("12345"), "digits only"),
        ("sms_sender", typed("Acme-Shop"), "at most 11 letters, digits and spaces"),
        ("sms_template", typed(LONG_SMS), "111 characters; at most 110"),
        ("sms_template", typed("Hi {{ link }}"), "Unknown placeholder {{ link }}"),
        ("sms_template", typed("{{ name.__class__ }}"), "only plain placeholders"),
        ("sms_template", typed("{% for x in name %}"), "Template error on line 1"),
        ("sms_price", typed("-1", "number_input"), "between 0 and 10"),
        ("sms_price", typed("cheap", "number_input"), "price like 0.045"),
        ("sms_price", typed("NaN", "number_input"), "finite number"),
        ("email_from", typed("reviews@@example.com"), ""),
        ("email_subject", typed("{{ nom }}"), "Unknown placeholder {{ nom }}"),
        ("email_body", typed("{{ name|attr('upper') }}"), "attr filter is not allowed"),
    ],
)
def test_each_invalid_value_is_refused_on_its_own_field_and_nothing_is_stored(
    slack: SlackHarness, block: str, state: dict[str, Any], words: str
) -> None:
    view = open_form(slack)
    before = slack.ops.policy(slack.ws)
    changes = {block: state, "business_name": typed("Renamed")}
    if block == "delay_custom":
        changes["delay"] = chose("custom")
    if block == "business_name":
        changes = {block: state}
    answer = submit(slack, view, **changes)
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [block]
    assert words in answer["errors"][block]
    # Nothing half-saved: not even the valid new business name.
    assert slack.ops.policy(slack.ws) == before


def test_several_invalid_values_are_each_refused_on_their_field(slack: SlackHarness) -> None:
    view = open_form(slack)
    before = slack.ops.policy(slack.ws)
    answer = submit(
        slack,
        view,
        timezone=typed("Nowhere"),
        sms_sender=typed("0612345678"),
        delay=chose("custom"),
        delay_custom=typed(None),
        landing_service_fr=typed("not a url"),
    )
    assert set(answer["errors"]) == {"timezone", "sms_sender", "delay_custom", "landing_service_fr"}
    assert "Write the delay" in answer["errors"]["delay_custom"]
    assert slack.ops.policy(slack.ws) == before


def test_a_custom_delay_needs_the_custom_choice(slack: SlackHarness) -> None:
    answer = submit(slack, open_form(slack), delay=chose("1d"), delay_custom=typed("2h"))
    assert 'Choose "Custom"' in answer["errors"]["delay_custom"]


def test_settings_set_still_works_beside_the_form(slack: SlackHarness) -> None:
    slack.post_command("settings set delay=7d reminders=1", user=ADMIN)
    assert "Settings saved: delay, reminders" in text_of(slack.answer())
    inputs = {
        b["block_id"]: b["element"] for b in open_form(slack)["blocks"] if b["type"] == "input"
    }
    assert inputs["delay"]["initial_option"]["value"] == "1w"
    assert inputs["reminders"]["initial_option"]["value"] == "1"


# --- the live SMS estimate ---------------------------------------------------------------------


def type_sms(
    slack: SlackHarness, view: dict[str, Any], text: str, **changes: Any
) -> dict[str, Any]:
    """Send the block_actions Slack sends as the SMS text is typed; return the redrawn view."""
    values = {
        **{b: {common.INPUT: s} for b, s in unchanged(view).items()},
        **{b: {common.INPUT: s} for b, s in changes.items()},
        "sms_template": {SMS_TEXT_ACTION: typed(text)},
    }
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "test-team"},
        "user": {"id": ADMIN, "username": "boss", "team_id": TEAM_ID},
        "api_app_id": slack.fake.app_id,
        "token": "verification-token-unused",
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": slack.fake.issue_trigger_id(),
        "view": {**view, "state": {"values": values}},
        "actions": [
            {
                "type": "plain_text_input",
                "block_id": "sms_template",
                "action_id": SMS_TEXT_ACTION,
                "value": text,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    updates = len(slack.fake.calls_to("views.update"))
    assert slack.post_action(payload).status_code == 200
    assert slack.fake.wait_for(lambda: len(slack.fake.calls_to("views.update")) > updates)
    return slack.fake.view(view["id"])


def sample_sms(slack: SlackHarness, text: str) -> str:
    link = "https://reviews.example.test/r/" + "x" * 24
    return f"{text} {link} Reply STOP to opt out"


def test_the_estimate_follows_the_text_as_it_is_typed(slack: SlackHarness) -> None:
    view = open_form(slack)
    short = "Thanks {{ name }}!"
    redrawn = type_sms(slack, view, short)
    assert sms_segments(sample_sms(slack, "Thanks Jane Doe!")).segments == 1
    assert preview_text(redrawn).startswith("1 segment (GSM-7) · est. 0.045 EUR per request")
    assert "18/110 characters" in preview_text(redrawn)
    # Only the estimate changed: every field keeps its block and action ids.
    assert [b.get("block_id") for b in redrawn["blocks"]] == [
        b.get("block_id") for b in view["blocks"]
    ]

    long_text = (
        "Thank you for choosing {{ business }}! Tell us how it went, it takes a minute " + "y" * 20
    )
    redrawn = type_sms(slack, redrawn, long_text)
    assert preview_text(redrawn).startswith("2 segments (GSM-7) · est. 0.09 EUR per request")


def test_the_estimate_uses_the_price_and_encoding_in_the_form(slack: SlackHarness) -> None:
    view = open_form(slack)
    redrawn = type_sms(slack, view, "Merci ! 🙏", sms_price=typed("0.1", "number_input"))
    # An emoji forces UCS-2: 70 units in one segment, here more.
    assert preview_text(redrawn).startswith("2 segments (UCS-2) · est. 0.2 EUR per request")


def test_an_unusable_text_is_said_in_the_estimate(slack: SlackHarness) -> None:
    view = open_form(slack)
    redrawn = type_sms(slack, view, "Hi {{ nom }}")
    assert "Unknown placeholder {{ nom }}" in preview_text(redrawn)
    redrawn = type_sms(slack, redrawn, "z" * 120)
    assert "120 characters; at most 110" in preview_text(redrawn)
    # A price the form would refuse is not used for the estimate.
    redrawn = type_sms(slack, redrawn, "Hi", sms_price=typed("-3", "number_input"))
    assert "est. 0.045 EUR per request" in preview_text(redrawn)


# --- templates saved in the form, used in the contact's language ------------------------------


def test_templates_saved_in_the_form_are_used_in_each_contacts_language(
    slack: SlackHarness,
) -> None:
    view = open_form(slack)
    answer = submit(
        slack,
        view,
        language=chose("sv"),
        sms_sender=typed("Acme"),
        sms_template=typed("Tack {{ name }}! Hälsningar, {{ business }}."),
        email_subject=typed("{{ business }} asks, {{ name }}"),
        email_body=typed("Dear {{ name }},\n\nYour review: {{ link }}"),
    )
    assert answer is None
    slack.post_command("send")
    send_view = slack.opened_view()
    language = next(b for b in send_view["blocks"] if b.get("block_id") == "language")
    assert language["element"]["initial_option"]["value"] == "sv"  # the workspace's, now

    french = slack.create("Jane Doe", phone="+33610203040", language="fr", when="now")
    default = slack.create("Bo Ek", phone="+33610203041", when="now")
    whatsapp = slack.create(
        "Jane Doe", phone="+33610203042", method="whatsapp", language="fr", when="now"
    )
    email = slack.create("Jane Doe", email="jane@example.com", language="en", when="now")
    slack.app.dispatcher.run_until_idle()

    def body(number: int) -> str:
        (message,) = slack.ops.show(slack.ws, number).messages
        assert message.body is not None
        return message.body

    link = "https://reviews.example.test/r/"
    # The custom SMS text, then the link and the opt-out notice in the contact's language.
    assert body(french).startswith(f"Tack Jane Doe! Hälsningar, Acme. {link}")
    assert body(french).endswith(" STOP pour ne plus recevoir de SMS")
    assert slack.ops.show(slack.ws, default).request.language == "sv"
    assert body(default).endswith(" Svara STOPP för att avregistrera dig")
    # WhatsApp keeps its default template, in French.
    assert body(whatsapp).startswith("Bonjour Jane Doe 👋 Merci d'avoir choisi Acme")
    # The email uses the saved subject and body (and still offers to unsubscribe).
    (sent_email,) = slack.ops.show(slack.ws, email).messages
    assert sent_email.subject == "Acme asks, Jane Doe"
    assert body(email).startswith(f"Dear Jane Doe,\n\nYour review: {link}")
    assert "Unsubscribe: https://reviews.example.test/u/" in body(email)
    assert "From: Acme" in slack.console.getvalue()


def test_the_form_stays_within_slack_limits_with_the_longest_values() -> None:
    from bot.domain.policy import WorkspacePolicy

    url = "https://example.com/" + "p" * 200
    policy = WorkspacePolicy(
        business_name="B" * 80,
        send_window="mon,wed,fri 08:30-24:00",
        delay="45m",
        landing_url_service=url,
        landing_url_product=url,
        landing_urls={
            f"{t}.{lang}": url for t in ("service", "product") for lang in ("en", "fr", "sv")
        },
        sms_template="{{ name }} " + "x" * 99,
        email_subject="S" * 200,
        email_body="B" * 3000,
        admins=[f"U{i:08d}" for i in range(50)],
    )
    estimate = sms_estimate.estimate_sms("x" * 1000, policy.sms_template, Decimal("9.999"), "EUR")
    view = settings_blocks.settings_modal(policy, estimate=estimate, private_metadata="{}")
    assert_within_limits(view, kind="modal")
    data = view.to_dict()
    assert len(data["blocks"]) < 90  # Slack's limit is 100: room for a few more settings
    inputs = {b["block_id"]: b["element"] for b in data["blocks"] if b["type"] == "input"}
    assert inputs["delay"]["initial_option"]["value"] == "custom"
    assert inputs["delay_custom"]["initial_value"] == "45m"
    assert inputs["window_end"]["initial_time"] == "00:00"
    assert all(
        len(e.get("initial_value") or "") <= e.get("max_length", 3000) for e in inputs.values()
    )


def test_an_email_body_longer_than_the_form_holds_is_kept(slack: SlackHarness) -> None:
    long_body = "Dear {{ name }}, " + "b" * 3500
    slack.set_policy(email_body=long_body)
    view = open_form(slack)
    field = next(b for b in view["blocks"] if b.get("block_id") == "email_body")
    assert "initial_value" not in field["element"]
    assert "3517 characters" in field["hint"]["text"] and "kept" in field["hint"]["text"]
    assert submit(slack, view, business_name=typed("Renamed")) is None
    policy = slack.ops.policy(slack.ws)
    assert (policy.business_name, policy.email_body) == ("Renamed", long_body)
    # Typing a new body replaces it.
    assert submit(slack, open_form(slack), email_body=typed("Hi {{ name }}")) is None
    assert slack.ops.policy(slack.ws).email_body == "Hi {{ name }}"
