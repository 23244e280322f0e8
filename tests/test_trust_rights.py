"""Who may decide about a message in doubt, and what a Slack guest may do: checked when the
user acts, through signed Slack requests to the real endpoint and the fake Slack."""

from __future__ import annotations

import json
import time
from typing import Any

from slack_sdk import WebClient

from bot.domain.errors import NotAllowed
from handlers.blocks.card import ACTION_MARK_SENT, ACTION_SEND_AGAIN
from handlers.blocks.listing import ROW_MENU
from handlers.permissions import GUEST_REFUSAL, Permissions
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    CHANNEL,
    TEAM_ID,
    USER,
    SlackHarness,
    slack_fixture,
    text_of,
    typed,
)
from tests.test_settings_modal import open_form, submit
from tests.test_slack_decisions import asking_reply, lost_in_doubt

CAROL = "U0CAROL"  # a member who neither sent the request nor administers the workspace
GUEST = "U0GUEST"  # a multi-channel guest
VISITOR = "U0VISIT"  # a single-channel guest
ONLY_ADMIN_OR_SENDER = "Only an admin or the person who sent #"


def click(slack: SlackHarness, action_id: str, number: int, user: str) -> None:
    reply = asking_reply(slack)
    payload = slack.action_payload(
        action_id, str(number), user=user, ephemeral=False, message_ts=reply["ts"]
    )
    payload["message"] = {"type": "message", "ts": reply["ts"], "text": reply["text"]}
    assert slack.post_action(payload).status_code == 200


def statuses(slack: SlackHarness, number: int) -> list[tuple[str, str]]:
    return [(m.kind, m.status) for m in slack.ops.show(slack.ws, number).messages]


def event_kinds(slack: SlackHarness, number: int) -> list[str]:
    return [e.kind for e in slack.ops.show(slack.ws, number).events]


# --- decisions about a message in doubt ----------------------------------------------------------


def test_the_sender_may_mark_their_request_as_sent(slack: SlackHarness) -> None:
    number = lost_in_doubt(slack)  # created by USER, who is no admin
    click(slack, ACTION_MARK_SENT, number, USER)
    assert f"marked as sent by <@{USER}>" in text_of(slack.answer())
    assert statuses(slack, number) == [("initial", "sent")]


def test_an_admin_may_send_again_someone_elses_request(slack: SlackHarness) -> None:
    number = lost_in_doubt(slack)
    click(slack, ACTION_SEND_AGAIN, number, ADMIN)
    assert f"sent again by <@{ADMIN}>" in text_of(slack.answer())
    assert slack.app.dispatcher.run_until_idle() == 1


def test_another_member_is_refused_both_decisions_and_nothing_changes(slack: SlackHarness) -> None:
    slack.fake.add_user(CAROL, name="carol", real_name="Carol Member")
    number = lost_in_doubt(slack)
    sent_before = slack.console.getvalue()
    events_before = event_kinds(slack, number)

    for action_id in (ACTION_MARK_SENT, ACTION_SEND_AGAIN):
        click(slack, action_id, number, CAROL)
        refusal = slack.ephemeral()
        assert refusal["user"] == CAROL and refusal["channel"] == CHANNEL
        assert ONLY_ADMIN_OR_SENDER in refusal["text"] and "#1 (alice)" in refusal["text"]

    assert statuses(slack, number) == [("initial", "unknown")]
    assert event_kinds(slack, number) == events_before
    assert slack.app.dispatcher.run_until_idle() == 0
    assert slack.console.getvalue() == sent_before  # nothing went to the customer


def test_an_admin_demoted_after_the_buttons_were_drawn_is_refused(slack: SlackHarness) -> None:
    slack.fake.add_user(CAROL, name="carol", real_name="Carol Member", is_admin=True)
    slack.set_policy(admins=[CAROL])
    number = lost_in_doubt(slack)  # the buttons are drawn while Carol is an admin twice over
    slack.set_policy(admins=[])
    slack.fake.add_user(CAROL, name="carol", real_name="Carol Member", is_admin=False)

    click(slack, ACTION_SEND_AGAIN, number, CAROL)

    assert ONLY_ADMIN_OR_SENDER in slack.ephemeral()["text"]
    assert statuses(slack, number) == [("initial", "unknown")]
    assert slack.app.dispatcher.run_until_idle() == 0


def test_the_list_menus_resend_of_a_message_in_doubt_follows_the_same_rule(
    slack: SlackHarness,
) -> None:
    slack.fake.add_user(CAROL, name="carol", real_name="Carol Member")
    number = lost_in_doubt(slack)
    payload = slack.action_payload(ROW_MENU, selected=f"resend:{number}", user=CAROL)
    assert slack.post_action(payload).status_code == 200
    assert ONLY_ADMIN_OR_SENDER in text_of(slack.answer())
    assert statuses(slack, number) == [("initial", "unknown")]

    payload = slack.action_payload(ROW_MENU, selected=f"resend:{number}", user=USER)
    assert slack.post_action(payload).status_code == 200
    assert "being sent again" in text_of(slack.answer())
    assert slack.app.dispatcher.run_until_idle() == 1


# --- Slack guests --------------------------------------------------------------------------------


def add_guests(slack: SlackHarness) -> None:
    slack.fake.add_user(GUEST, name="guest", real_name="Gus Guest", is_restricted=True)
    slack.fake.add_user(VISITOR, name="visit", real_name="Vi Sitor", is_ultra_restricted=True)


def test_guests_are_refused_every_command_with_the_reason(slack: SlackHarness) -> None:
    add_guests(slack)
    slack.create("Jane Doe", phone="+33610203040")
    for guest in (GUEST, VISITOR):
        for text in ("list", "show 1", "send Bob +33 6 11 22 33 44", "cancel 1", "export"):
            assert slack.post_command(text, user=guest).status_code == 200
            answer = slack.answer()
            assert GUEST_REFUSAL in text_of(answer), text
            assert "Jane" not in json.dumps(answer) and "06 10" not in json.dumps(answer)
    detail = slack.ops.show(slack.ws, 1)
    assert [m.status for m in detail.messages] == ["queued"]  # not canceled
    assert slack.ops.count_queued(slack.ws) == 1  # Bob's send was not stored


def test_a_guest_is_refused_a_button_even_one_drawn_for_everyone(slack: SlackHarness) -> None:
    add_guests(slack)
    number = lost_in_doubt(slack)
    click(slack, ACTION_SEND_AGAIN, number, GUEST)
    refusal = slack.ephemeral()
    assert refusal["user"] == GUEST and GUEST_REFUSAL in refusal["text"]
    assert statuses(slack, number) == [("initial", "unknown")]
    assert slack.app.dispatcher.run_until_idle() == 0


def open_home(slack: SlackHarness, user: str) -> dict[str, Any]:
    body = {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "api_app_id": slack.fake.app_id,
        "event": {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"},
        "type": "event_callback",
        "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
    }
    assert slack.post(json.dumps(body), content_type="application/json").status_code == 200
    assert slack.fake.wait_for(lambda: user in slack.fake.home_views)
    return slack.fake.home_views[user]


def test_a_guests_home_tab_shows_the_refusal_and_no_customer(slack: SlackHarness) -> None:
    add_guests(slack)
    slack.create("Jane Doe", phone="+33610203040")
    assert "Jane" in json.dumps(open_home(slack, USER))  # a member sees the latest requests
    for guest in (GUEST, VISITOR):
        home = json.dumps(open_home(slack, guest))
        assert "Slack guests can" in home
        assert "Jane" not in home and "+33" not in home and "06 10" not in home


def test_a_member_made_guest_is_refused_once_the_short_cache_expires(slack: SlackHarness) -> None:
    now = [1000.0]
    permissions = Permissions(slack.ops, ttl=60.0, monotonic=lambda: now[0])
    client = WebClient(token=slack.fake.bot_token, base_url=slack.fake.api_url)
    permissions.require_member(client, TEAM_ID, USER)
    slack.fake.add_user(USER, name="alice", real_name="Alice Martin", is_restricted=True)
    now[0] += 59.0
    permissions.require_member(client, TEAM_ID, USER)  # Slack asked once a minute at most
    now[0] += 2.0
    try:
        permissions.require_member(client, TEAM_ID, USER)
    except NotAllowed as exc:
        assert exc.message == GUEST_REFUSAL
    else:
        raise AssertionError("a guest was let in after the cache expired")
    assert not permissions.is_admin(client, slack.ws, TEAM_ID, USER)


def test_when_slack_cannot_say_who_clicked_nothing_is_done(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    assert slack.post_command("cancel 1", user="U0NOBODY").status_code == 200
    assert "couldn't check your Slack account" in text_of(slack.answer())
    assert [m.status for m in slack.ops.show(slack.ws, 1).messages] == ["queued"]


def test_a_form_opened_before_its_user_became_a_guest_is_refused_on_submit(
    slack: SlackHarness,
) -> None:
    view = open_form(slack)  # opened by an admin
    slack.fake.add_user(GUEST, name="guest", real_name="Gus Guest", is_restricted=True)
    before = slack.ops.policy(slack.ws)
    answer = submit(slack, view, user=GUEST, business_name=typed("Guest Shop"))
    assert answer["response_action"] == "errors"
    assert [GUEST_REFUSAL in e for e in answer["errors"].values()] == [True]
    assert slack.ops.policy(slack.ws) == before
