"""The App Home tab through the real HTTP endpoint: events, its buttons, and the fake Slack."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import requests

from bot.domain.contacts import mask_email, mask_phone
from bot.usecases.feedback import Feedback
from handlers.blocks.home import HOME_EXPORT, HOME_QUEUED, HOME_SEND, QUEUED_CAP, queued_modal
from handlers.blocks.limits import assert_within_limits
from store.models import ReviewRequest
from tests.conftest import START
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    ALICE,
    TEAM_ID,
    USER,
    SlackHarness,
    find_element,
    slack_fixture,
    text_of,
)
from tests.test_slack_interactions import send_values
from tests.test_webhooks_twilio import BROWSER

# --- driving the Home tab like Slack ------------------------------------------------------------


def open_home(slack: SlackHarness, user: str = USER, tab: str = "home") -> requests.Response:
    """Send the app_home_opened event as the Events API does (signed JSON)."""
    body = {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "api_app_id": slack.fake.app_id,
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user}",
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        },
        "type": "event_callback",
        "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
    }
    return slack.post(json.dumps(body), content_type="application/json")


def home_of(slack: SlackHarness, user: str = USER, after: str | None = None) -> dict[str, Any]:
    """Wait for a Home view published to `user` (a new one when `after` is a previous hash)."""

    def published() -> bool:
        view = slack.fake.home_views.get(user)
        return view is not None and view["hash"] != after

    assert slack.fake.wait_for(published), f"no Home view published to {user}"
    return slack.fake.home_views[user]


def opened_home(slack: SlackHarness, user: str = USER) -> dict[str, Any]:
    before = slack.fake.home_views.get(user)
    assert open_home(slack, user).status_code == 200
    return home_of(slack, user, after=before["hash"] if before else None)


def click_home(slack: SlackHarness, action_id: str, user: str = USER) -> requests.Response:
    """Press a button of the user's published Home view (no channel, no response_url)."""
    view = slack.fake.home_views[user]
    button = find_element(view, action_id)
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "test-team"},
        "user": {"id": user, "username": "alice", "team_id": TEAM_ID},
        "api_app_id": slack.fake.app_id,
        "token": "verification-token-unused",
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": slack.fake.issue_trigger_id(),
        "view": view,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "home_actions",
                "value": button.get("value"),
                "text": button["text"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return slack.post_payload(payload)


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def stats(view: dict[str, Any], days: int) -> dict[str, str]:
    """Read a stats block back as {"Sent": "3", ...}."""
    out = {}
    for field in block(view, f"home_stats_{days}")["fields"]:
        name, _, value = field["text"].partition("\n")
        out[name.strip("*")] = value
    return out


def row_numbers(view: dict[str, Any], prefix: str) -> list[int]:
    return [
        int(b["block_id"][len(prefix) :])
        for b in view["blocks"]
        if str(b.get("block_id", "")).startswith(prefix)
    ]


def message_of(slack: SlackHarness, number: int, index: int = 0) -> Any:
    return slack.ops.show(slack.ws, number).messages[index]


def base_url(slack: SlackHarness) -> str:
    return slack.url.removesuffix("/slack/events")


# --- app_home_opened ------------------------------------------------------------------------------


def test_opening_home_publishes_the_stats_of_the_last_7_and_30_days(slack: SlackHarness) -> None:
    slack.set_policy(
        send_window="always", cooldown_days=0, landing_url_service="https://g.page/r/acme"
    )
    feedback = Feedback(slack.ops)
    # 21 days ago: sent and clicked, so it counts in the 30 days only.
    old = slack.create("Old", phone="+33610000001", when="now")
    slack.app.dispatcher.run_until_idle()
    link = requests.get(
        f"{base_url(slack)}/r/{message_of(slack, old).token}",
        headers={"User-Agent": BROWSER},
        allow_redirects=False,
        timeout=5,
    )
    assert link.status_code == 302
    slack.clock.advance(timedelta(days=21))
    delivered = slack.create("Del", phone="+33610000002", when="now")
    failed = slack.create("Fail", phone="+33610000003", when="now")
    opened = slack.create("Open", email="open@example.com", when="now")
    slack.create("Later", phone="+33610000004", delay=timedelta(days=1))
    paused = slack.create("Held", phone="+33610000005", delay=timedelta(days=1))
    slack.ops.pause(slack.ws, [paused], ALICE)
    slack.app.dispatcher.run_until_idle()
    feedback.twilio_status(sid=str(message_of(slack, delivered).provider_id), status="delivered")
    feedback.twilio_status(
        sid=str(message_of(slack, failed).provider_id), status="failed", error_code="30003"
    )
    pixel = requests.get(
        f"{base_url(slack)}/o/{message_of(slack, opened).token}.gif",
        headers={"User-Agent": BROWSER},
        timeout=5,
    )
    assert pixel.status_code == 200

    view = opened_home(slack)

    assert view["type"] == "home"
    assert stats(view, 7) == {
        "Sent": "3",
        "Delivered": "1",
        "Opened": "1",
        "Clicked": "0",
        "Failed": "1",
        "Click rate": "0%",
    }
    assert stats(view, 30) == {
        "Sent": "4",
        "Delivered": "1",
        "Opened": "1",
        "Clicked": "1",
        "Failed": "1",
        "Click rate": "25%",
    }
    waiting = block(view, "home_waiting")["text"]["text"]
    assert "*Waiting to go out*: 2 requests" in waiting
    for action_id, label in (
        (HOME_SEND, "Send request"),
        (HOME_QUEUED, "Show queued"),
        (HOME_EXPORT, "Export"),
    ):
        assert find_element(view, action_id)["text"]["text"] == label


def test_home_lists_the_latest_10_requests_with_masked_contacts(slack: SlackHarness) -> None:
    slack.set_policy(cooldown_days=0)
    phones = [f"+336100000{n:02d}" for n in range(1, 13)]
    for n, phone in enumerate(phones, start=1):
        if n % 2:
            slack.create(f"Customer {n}", phone=phone, delay=timedelta(hours=n))
        else:
            slack.create(f"Customer {n}", email=f"customer{n}@example.com")
    slack.ops.cancel(slack.ws, [12], ALICE)

    view = opened_home(slack)

    assert row_numbers(view, "home_row_") == list(range(12, 2, -1))
    text = text_of(view)
    assert "Customer 1 " not in text and "Customer 2 " not in text
    for n in range(3, 13):
        phone_or_email = phones[n - 1] if n % 2 else f"customer{n}@example.com"
        assert phone_or_email not in text
    row_11 = block(view, "home_row_11")["text"]["text"]
    assert row_11.startswith(f"*#11* Customer 11 · {mask_phone(phones[10])} · SMS · ")
    assert ":hourglass_flowing_sand: queued · due <!date^" in row_11
    row_12 = block(view, "home_row_12")["text"]["text"]
    assert f"{mask_email('customer12@example.com')} · Email · :no_entry_sign: canceled" in row_12


def test_the_messages_tab_publishes_nothing(slack: SlackHarness) -> None:
    slack.create("Jane", phone="+33610203040")
    assert open_home(slack, USER, tab="messages").status_code == 200
    # Then a Home tab opened by someone else: once that is published, the first event was handled.
    assert open_home(slack, ADMIN).status_code == 200
    home_of(slack, ADMIN)
    assert not slack.fake.wait_for(lambda: USER in slack.fake.home_views, timeout=0.3)


def test_each_user_gets_their_own_fresh_home(slack: SlackHarness) -> None:
    first = opened_home(slack)
    assert row_numbers(first, "home_row_") == []
    assert "No request yet" in text_of(first)
    slack.create("Jane", phone="+33610203040")
    again = opened_home(slack)
    assert row_numbers(again, "home_row_") == [1]
    assert again["id"] == first["id"]  # the same Home view, updated
    assert [c["user_id"] for c in slack.fake.calls_to("views.publish")] == [USER, USER]


# --- buttons ----------------------------------------------------------------------------------------


def test_send_request_opens_the_send_modal_and_a_submission_creates_it(
    slack: SlackHarness,
) -> None:
    home = opened_home(slack)
    assert click_home(slack, HOME_SEND).status_code == 200
    modal = slack.opened_view()
    assert modal["callback_id"] == "send_request" and modal["type"] == "modal"

    response = slack.post_view_submission(modal, send_values())

    assert response.status_code == 200 and response.text == ""
    request = slack.ops.show(slack.ws, 1).request
    assert (request.customer_name, request.phone, request.created_by) == (
        "Jane Doe",
        "+33610203040",
        USER,
    )
    # No channel to answer in from the Home tab: the confirmation is a direct message...
    assert slack.fake.wait_for(lambda: slack.fake.messages(USER))
    assert "#1" in text_of(slack.fake.messages(USER)[0])
    # ...and the Home tab is published again with the new request.
    refreshed = home_of(slack, after=home["hash"])
    assert row_numbers(refreshed, "home_row_") == [1]
    # Without a notify channel the request's card and thread live in that direct message too.
    outbox = slack.app.outbox
    for _ in range(3):
        outbox.run_once()
        slack.clock.advance(timedelta(seconds=2))
    cards = [m for m in slack.fake.messages(USER) if "Review request for" in text_of(m)]
    assert len(cards) == 1 and "#1" in text_of(cards[0])


def test_a_wrong_field_from_home_is_refused_like_the_command(slack: SlackHarness) -> None:
    opened_home(slack)
    click_home(slack, HOME_SEND)
    modal = slack.opened_view()
    response = slack.post_view_submission(
        modal, send_values(phone={"type": "plain_text_input", "value": "12"})
    )
    assert response.json()["response_action"] == "errors"
    assert "phone" in response.json()["errors"]
    assert slack.ops.count_queued(slack.ws) == 0
    assert len(slack.fake.calls_to("views.publish")) == 1


def test_show_queued_lists_exactly_the_waiting_requests(slack: SlackHarness) -> None:
    slack.set_policy(send_window="always", cooldown_days=0)
    queued = slack.create("Queued", phone="+33610000001", delay=timedelta(days=1))
    paused = slack.create("Paused", phone="+33610000002", delay=timedelta(days=1))
    slack.ops.pause(slack.ws, [paused], ALICE)
    slack.create("Sent", phone="+33610000003", when="now")
    canceled = slack.create("Canceled", phone="+33610000004", delay=timedelta(days=1))
    slack.ops.cancel(slack.ws, [canceled], ALICE)
    slack.app.dispatcher.run_until_idle()
    opened_home(slack)

    assert click_home(slack, HOME_QUEUED).status_code == 200
    modal = slack.opened_view()

    assert modal["type"] == "modal" and modal["title"]["text"] == "Queued requests"
    assert sorted(row_numbers(modal, "queued_")) == sorted([queued, paused])
    text = text_of(modal)
    assert "*2* requests waiting" in text and "more" not in text
    assert ":double_vertical_bar: paused" in text and "+33610000001" not in text
    assert "submit" not in modal or modal["submit"] is None


def test_the_queued_modal_stops_at_its_cap_and_says_how_many_more() -> None:
    rows = [
        ReviewRequest(
            id=n,
            workspace_id=1,
            number=n,
            customer_name=f"C{n}",
            phone="+33610203040",
            method="sms",
            channel="sms",
            status="queued",
            created_by=USER,
            created_at=START,
            scheduled_at=START + timedelta(days=1),
        )
        for n in range(QUEUED_CAP + 7, 0, -1)
    ]
    view = queued_modal(rows, QUEUED_CAP + 7).to_dict()
    assert len(row_numbers(view, "queued_")) == QUEUED_CAP
    assert "and 7 more — use `/reviews list status:queued,paused`" in text_of(view)


def test_what_the_home_sent_to_slack_stays_within_limits(slack: SlackHarness) -> None:
    slack.set_policy(cooldown_days=0)
    for n in range(12):
        slack.create("Ŵ" * 100, email=f"{'x' * 60}{n}@example.com", delay=timedelta(days=1))
    opened_home(slack)
    click_home(slack, HOME_QUEUED)
    modal = slack.opened_view()
    assert_within_limits(slack.fake.home_views[USER], kind="home")
    assert_within_limits(modal, kind="modal")
    assert len(row_numbers(modal, "queued_")) == 12
