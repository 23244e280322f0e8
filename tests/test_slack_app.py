"""The Slack endpoint itself: signatures, errors, the manifest, and Block Kit limits."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.models.blocks import DividerBlock, Option

from bot.domain.policy import WorkspacePolicy
from bot.failures import FORM_TOO_LATE, SORRY
from bot.usecases.inputs import BulkResult, CustomerLookup, RequestDetail
from handlers.blocks import common, limits, settings_show
from handlers.blocks import customer as customer_blocks
from handlers.blocks import detail as detail_blocks
from handlers.blocks import help as help_blocks
from handlers.blocks import home as home_blocks
from handlers.blocks import listing as listing_blocks
from handlers.blocks import send as send_blocks
from handlers.blocks.controls import CustomerState
from handlers.blocks.edit import edit_modal
from handlers.parsing import PageState, parse_list_query
from store.models import Contact, Event, Message, ReviewRequest
from store.queries import ContactHistory, Counts, Cursor
from tests.slack_harness import SlackHarness, slack_fixture, text_of  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_SCOPES = {
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "files:read",  # the CSV of /reviews import
    "users:read",
    "im:write",
    # The outbox reads back a post Slack stored but answered 5xx (exactly-once posts).
    "channels:history",
    "groups:history",
    "im:history",
}


# --- request verification ----------------------------------------------------------------------


def test_a_forged_signature_is_refused_and_changes_nothing(slack: SlackHarness) -> None:
    slack.create("Jane", phone="+33610203040")
    response = slack.post_command("pause #1", secret="not-the-signing-secret")
    assert response.status_code == 401
    time.sleep(0.2)  # give a wrongly accepted request the time to act
    assert slack.ops.show(slack.ws, 1).request.status == "queued"
    assert slack.fake.responses == [] and slack.fake.calls_to("chat.postEphemeral") == []


def test_a_stale_timestamp_is_refused_and_changes_nothing(slack: SlackHarness) -> None:
    slack.create("Jane", phone="+33610203040")
    response = slack.post_command("cancel #1", timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    payload = slack.action_payload("request_cancel", "1", ephemeral=False)
    assert slack.post_action(payload, timestamp=int(time.time()) - 6 * 60).status_code == 401
    time.sleep(0.2)
    assert slack.ops.show(slack.ws, 1).request.status == "queued"
    assert slack.fake.responses == [] and slack.fake.ephemerals == []


def test_an_unsigned_request_is_refused(slack: SlackHarness) -> None:
    import requests

    response = requests.post(slack.url, data={"command": "/reviews", "text": "help"}, timeout=5)
    assert response.status_code == 401


# --- errors ------------------------------------------------------------------------------------


def test_a_failing_listener_is_logged_and_the_user_told_politely(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fake.fail_next("views.open", status=500)
    with caplog.at_level(logging.ERROR, logger="handlers.errors"):
        assert slack.post_command("send").status_code == 200
        answer = slack.answer()
    assert answer["text"] == SORRY
    failures = [r for r in caplog.records if r.name == "handlers.errors" and r.exc_info]
    assert failures and "reviews_command" in failures[0].getMessage()


def test_a_form_slack_no_longer_lets_us_open_is_said_as_such(slack: SlackHarness) -> None:
    slack.fake.fail_next("views.open", error="expired_trigger_id")
    assert slack.post_command("send").status_code == 200
    assert slack.answer()["text"] == FORM_TOO_LATE
    assert not slack.fake.views  # no form opened, nothing else done


def test_an_unhandled_request_answers_404(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.slack"):
        response = slack.post_action(slack.action_payload("no_such_button", "1"))
    assert response.status_code == 404
    assert any("No listener" in r.getMessage() for r in caplog.records)


# --- manifest ----------------------------------------------------------------------------------


def test_the_manifest_agrees_with_the_registered_listeners(slack: SlackHarness) -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    registered = slack.app.slack.registered
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == registered.commands == ["/reviews"]
    assert all(c["usage_hint"] and c["url"].endswith("/slack/events") for c in commands)
    settings = manifest["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == sorted(registered.events)
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is bool(registered.actions or registered.views)
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    urls = {c["url"] for c in commands} | {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    }
    assert urls == {"https://reviews.example.com/slack/events"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == REQUIRED_SCOPES
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    # Exports and confirmations without a channel arrive as direct messages from the app.
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["bot_user"]["display_name"]
    assert settings["socket_mode_enabled"] is False
    # Workflow steps: declared as functions, run on our server, in an org-ready app.
    assert list(manifest["functions"]) == registered.functions == ["send_review_request"]
    assert settings["function_runtime"] == "remote" and settings["org_deploy_enabled"] is True


def test_every_registered_action_is_routed(slack: SlackHarness) -> None:
    registered = slack.app.slack.registered
    for action_id in registered.actions:
        before = len(slack.fake.responses) + len(slack.fake.ephemerals) + len(slack.fake.views)
        if action_id == "list_row":
            payload = slack.action_payload(action_id, selected="details:99")
        else:
            payload = slack.action_payload(
                action_id, "99", ephemeral=not action_id.startswith("request_")
            )
        assert slack.post_action(payload).status_code == 200, action_id
        assert slack.fake.wait_for(
            lambda b=before: (
                len(slack.fake.responses) + len(slack.fake.ephemerals) + len(slack.fake.views) > b
            )
        ), action_id


# --- Block Kit limits --------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LONG = "Ŵ" * 100


def request(number: int, **fields: Any) -> ReviewRequest:
    values: dict[str, Any] = {
        "id": number,
        "workspace_id": 1,
        "number": number,
        "customer_name": LONG,
        "phone": "+33610203040",
        "email": "a" * 60 + "@" + "b" * 60 + ".example.com",
        "method": "sms_and_email",
        "channel": "sms+email",
        "review_type": "product",
        "reference": "R" * 100,
        "status": "failed",
        "created_by": "U0ALICE",
        "created_at": NOW,
        "updated_at": NOW,
        "scheduled_at": NOW,
        "sent_at": NOW,
        "retries": 3,
        "last_error": "E" * 500,
    }
    values.update(fields)
    return ReviewRequest(**values)


def message(i: int) -> Message:
    return Message(
        id=i,
        workspace_id=1,
        request_id=1,
        kind="reminder",
        channel="email",
        to_address="x" * 300,
        status="failed",
        due_at=NOW,
        token=f"t{i}",
        sent_at=NOW,
        failed_at=NOW,
        error_code="30003",
        error_reason="Y" * 500,
        created_at=NOW,
        updated_at=NOW,
    )


def every_builder() -> list[tuple[str, Any, str]]:
    policy = WorkspacePolicy(reminders=2, landing_url_product="https://example.com/" + "p" * 200)
    detail = RequestDetail(
        request(1),
        [message(i) for i in range(80)],
        [
            Event(
                id=i,
                workspace_id=1,
                request_id=1,
                kind="reminder_scheduled",
                actor="U0ALICE",
                at=NOW,
                detail={"reason": "Z" * 300},
            )
            for i in range(40)
        ],
        None,
        policy,
    )
    rows = [
        listing_blocks.Row(request(n, status=s), frozenset(w))
        for n, (s, w) in enumerate(
            [
                ("queued", {"queued"}),
                ("paused", {"paused"}),
                ("sent", set()),
                ("failed", set()),
                ("sent", {"queued"}),
            ]
            * 2,
            start=1,
        )
    ]
    from bot.domain.status import Status

    rows = [listing_blocks.Row(r.request, frozenset(Status(x) for x in r.waiting)) for r in rows]
    long_query = "jane " + "status:queued,paused,sent,failed " * 20
    cursor = Cursor(NOW, 10**12)
    state = PageState(long_query[:1400], after=cursor, before=cursor)
    f = parse_list_query(
        "status:failed via:sms by:me from:2026-01-01 to:2026-12-31 type:product ref:X jane",
        timezone="Europe/Paris",
        user_id="U0ALICE",
    ).filter
    big = Counts(10**9, 10**9, 10**9, 10**9, 10**9, 10**9)
    zero = Counts(0, 0, 0, 0, 0, 0)
    refused = BulkResult(changed=list(range(1, 101)), refused=[(n, "R" * 200) for n in range(100)])
    contact = Contact(
        id=7,
        workspace_id=1,
        name=LONG,
        phone="+33610203040",
        email="a" * 60 + "@" + "b" * 60 + ".example.com",
        phone_opted_out_at=NOW,
        email_opted_out_at=NOW,
        created_at=NOW,
    )
    many = [request(n) for n in range(200, 0, -1)]
    reply = Event(
        id=1,
        workspace_id=1,
        request_id=1,
        kind="reply",
        actor="customer",
        at=NOW,
        detail={"text": "T" * 1600},
    )
    history = ContactHistory(
        contact,
        many,
        {n: [message(i) for i in range(80)] for n in range(1, 201)},
        {n: [reply] for n in range(1, 201)},
        total_requests=5000,
    )
    choices = CustomerLookup("x" * 100, None, [contact] * 20, more=True)
    return [
        ("help", help_blocks.help_reply().blocks, "message"),
        ("help unknown", help_blocks.help_reply("x" * 500).blocks, "message"),
        (
            "send modal",
            send_blocks.send_modal(
                policy, private_metadata=common.metadata(c="C1", r="https://x/" + "r" * 200)
            ),
            "modal",
        ),
        (
            "reschedule",
            send_blocks.reschedule_modal(123456789, NOW, private_metadata="{}"),
            "modal",
        ),
        (
            "filter",
            listing_blocks.filter_modal(f, timezone="Europe/Paris", private_metadata="{}"),
            "modal",
        ),
        (
            "list",
            listing_blocks.list_reply(
                rows,
                state=state,
                f=f,
                counts={"sent": 10**9},
                next_state=state,
                prev_state=state,
                note="N" * 4000,
            ).blocks,
            "message",
        ),
        (
            "empty list",
            listing_blocks.list_reply(
                [], state=PageState(), f=f, counts={}, next_state=None, prev_state=None
            ).blocks,
            "message",
        ),
        (
            "detail",
            detail_blocks.detail_reply(
                detail, detail_blocks.SenderInfo("a@b.c", "d@e.f", "+15005550006")
            ).blocks,
            "message",
        ),
        ("bulk", listing_blocks.bulk_reply(refused, "paused").blocks, "message"),
        (
            "list for an admin, with checkboxes",
            listing_blocks.list_reply(
                rows,
                state=state,
                f=f,
                counts={},
                next_state=state,
                prev_state=state,
                note="N" * 4000,
                admin=True,
            ).blocks,
            "message",
        ),
        (
            "customer grouped",
            customer_blocks.customer_reply(history, CustomerState(7, page=3)).blocks,
            "message",
        ),
        (
            "customer flat",
            customer_blocks.customer_reply(history, CustomerState(7, True, 10**6)).blocks,
            "message",
        ),
        ("customer choices", customer_blocks.customer_choices_reply(choices).blocks, "message"),
        ("delete prompt", customer_blocks.delete_prompt(10**9).blocks, "message"),
        ("deleted", customer_blocks.deleted_reply(10**9).blocks, "message"),
        ("cancel all", listing_blocks.cancel_all_prompt(10**9).blocks, "message"),
        ("row cancel", listing_blocks.row_cancel_prompt(10**9).blocks, "message"),
        ("created", send_blocks.created_reply(request(1, status="queued")).blocks, "message"),
        (
            "settings",
            settings_show.settings_reply(
                [(f"key{i}", "v" * 300) for i in range(40)], admin=True
            ).blocks,
            "message",
        ),
        (
            "home",
            home_blocks.home_view(
                home_blocks.HomeData(
                    now=NOW,
                    periods=[(7, big), (30, big)],
                    waiting=10**9,
                    recent=[request(n, status=s) for n, s in enumerate(["queued"] * 30, 1)],
                )
            ),
            "home",
        ),
        (
            "empty home",
            home_blocks.home_view(
                home_blocks.HomeData(now=NOW, periods=[(7, zero), (30, zero)], waiting=0, recent=[])
            ),
            "home",
        ),
        (
            "queued",
            home_blocks.queued_modal([request(n, status="paused") for n in range(1, 200)], 10**9),
            "modal",
        ),
        ("no queued", home_blocks.queued_modal([], 0), "modal"),
        (
            "edit",
            edit_modal(
                request(10**9, status="queued"),
                private_metadata="m" * 3000,
            ),
            "modal",
        ),
    ]


@pytest.mark.parametrize(
    ("name", "payload", "kind"), every_builder(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_every_builder_stays_within_slack_limits(name: str, payload: Any, kind: str) -> None:
    limits.assert_within_limits(payload, kind=kind)


def test_the_limit_check_finds_each_kind_of_breach() -> None:
    too_many = [DividerBlock() for _ in range(51)]
    assert "51 blocks (at most 50)" in limits.limit_problems(too_many, kind="message")
    assert limits.limit_problems(too_many, kind="modal") == []
    # slack_sdk refuses to serialise some breaches itself, so these are raw dicts.
    long_title = {"type": "modal", "title": {"type": "plain_text", "text": "T" * 25}, "blocks": []}
    assert limits.limit_problems(long_title, kind="modal") == ["title longer than 24"]
    text = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert limits.limit_problems(text, kind="message") == ["section text longer than 3000"]
    option = Option(text="a", value="a").to_dict()
    overflow = {"type": "overflow", "action_id": "o", "options": [option]}
    one = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "accessory": overflow}]
    assert limits.limit_problems(one, kind="message") == ["overflow with 1 options (2 to 5)"]
    big = {"type": "button", "action_id": "b", "value": "v" * 2001}
    button = [
        {"type": "actions", "elements": [{**big, "text": {"type": "plain_text", "text": "b" * 76}}]}
    ]
    assert limits.limit_problems(button, kind="message") == [
        "button text longer than 75",
        "button value longer than 2000",
    ]
    eleven = [Option(text=str(i), value=str(i)).to_dict() for i in range(11)]
    ticks = [{"type": "input", "element": {"type": "checkboxes", "options": eleven}}]
    assert limits.limit_problems(ticks, kind="message") == ["checkboxes with more than 10 options"]
    with pytest.raises(ValueError, match="51 blocks"):
        limits.assert_within_limits(too_many, kind="message")


def test_what_was_actually_sent_to_slack_stays_within_limits(slack: SlackHarness) -> None:
    for i in range(12):
        slack.create(LONG[: 60 + i], email=f"c{i}@example.com", reference="R" * 100)
    slack.post_command("list")
    slack.answer()
    slack.post_command("show #12")
    slack.answer()
    slack.post_command("send")
    slack.opened_view()
    for response in slack.fake.responses:
        limits.assert_within_limits(response, kind="message")
    for view in slack.fake.views:
        limits.assert_within_limits(view, kind="modal")
    assert "#12" in text_of(slack.fake.responses[0])


def test_page_state_survives_a_button_round_trip() -> None:
    state = PageState("status:failed jane", after=Cursor(NOW, 42))
    assert PageState.decode(state.encode()) == state
    with pytest.raises(Exception, match="out of date"):
        PageState.decode("{not json")
    assert len(PageState("x" * 1500, Cursor(NOW, 1), Cursor(NOW, 2)).encode()) <= 2000


def test_without_slack_settings_install_says_what_to_set(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app import create_app
    from bot.settings import Settings
    from bot.slack import install_slack

    app = create_app(Settings(_env_file=None, DATABASE_URL=database_url))  # type: ignore[call-arg]
    try:
        with caplog.at_level(logging.WARNING, logger="bot.slack"):
            assert install_slack(app) is False
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.slack"]
        assert len(lines) == 1
        assert "SLACK_BOT_TOKEN" in lines[0] and "SLACK_SIGNING_SECRET" in lines[0]
        assert "SLACK_CLIENT_ID" in lines[0]
        assert app.flask_hooks == []
    finally:
        app.close()


def test_admin_checks_ask_slack_once_a_minute(slack: SlackHarness) -> None:
    from tests.slack_harness import ADMIN

    for _ in range(2):
        slack.post_command("cancel all queued", user=ADMIN)
        slack.answer()
    assert len(slack.fake.calls_to("users.info")) == 1


def test_socket_mode_needs_the_app_token(slack: SlackHarness) -> None:
    from bot.slack import connect_socket_mode

    with pytest.raises(RuntimeError, match="SLACK_APP_TOKEN"):
        connect_socket_mode(slack.app)
