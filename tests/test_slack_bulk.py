"""Ticking list rows and acting on them, and deleting a request, over signed HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.usecases.feedback import Feedback
from handlers.blocks.limits import assert_within_limits
from store.models import Event, Message, ReviewRequest, SlackOutbox
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    ALICE,
    CHANNEL,
    USER,
    SlackHarness,
    find_element,
    slack_fixture,
    text_of,
)


def listing(slack: SlackHarness, query: str = "", user: str = USER) -> dict[str, Any]:
    assert slack.post_command(f"list {query}".strip(), user=user).status_code == 200
    answer = slack.answer()
    assert_within_limits(answer, kind="message")
    return answer


def press_selected(
    slack: SlackHarness, page: dict[str, Any], action_id: str, numbers: list[int]
) -> dict[str, Any]:
    """Tick rows and press a "… selected" button, sending the checkboxes' state like Slack."""
    checkboxes = find_element(page, "list_select")
    offered = {o["value"]: o for o in checkboxes["options"]}
    payload = slack.action_payload(action_id, find_element(page, action_id)["value"])
    payload["actions"][0]["block_id"] = "list_bulk"
    payload["state"] = {
        "values": {
            "list_select_0": {
                "list_select": {
                    "type": "checkboxes",
                    "selected_options": [offered[str(n)] for n in numbers],
                }
            }
        }
    }
    assert slack.post_action(payload).status_code == 200
    answer = slack.answer()
    assert_within_limits(answer, kind="message")
    return answer


def status(slack: SlackHarness, number: int) -> str:
    return str(slack.ops.show(slack.ws, number).request.status)


@pytest.fixture
def mixed(slack: SlackHarness) -> SlackHarness:
    """#1 and #2 queued, #3 paused, #4 sent, #5 canceled."""
    slack.set_policy(cooldown_days=0, send_window="always")
    for i in range(1, 4):
        slack.create(f"Queued {i}", email=f"q{i}@example.com", delay=timedelta(days=1))
    slack.ops.pause(slack.ws, [3], ALICE)
    slack.create("Sent", email="sent@example.com", when="now")
    slack.app.dispatcher.run_until_idle()
    slack.create("Canceled", email="c@example.com", delay=timedelta(days=1))
    slack.ops.cancel(slack.ws, [5], ALICE)
    assert [status(slack, n) for n in range(1, 6)] == [
        "queued",
        "queued",
        "paused",
        "sent",
        "canceled",
    ]
    return slack


# --- the checkboxes --------------------------------------------------------------------------


def test_each_page_has_checkboxes_for_its_rows_and_the_three_buttons(slack: SlackHarness) -> None:
    for i in range(1, 13):
        slack.create(f"Customer {i}", email=f"c{i}@example.com")
    first = listing(slack)
    checkboxes = find_element(first, "list_select")
    assert checkboxes["type"] == "checkboxes"
    assert [o["value"] for o in checkboxes["options"]] == [str(n) for n in range(12, 2, -1)]
    assert checkboxes["options"][0]["text"]["text"] == "#12 Customer 12"
    select_block = next(b for b in first["blocks"] if b.get("block_id") == "list_select_0")
    assert select_block["type"] == "input" and select_block["optional"] is True
    buttons = next(b for b in first["blocks"] if b.get("block_id") == "list_bulk")["elements"]
    assert [b["text"]["text"] for b in buttons] == [
        "Pause selected",
        "Resume selected",
        "Cancel selected",
    ]
    assert buttons[2]["confirm"]["confirm"]["text"] == "Cancel them"  # asks before canceling
    payload = slack.action_payload("list_next", find_element(first, "list_next")["value"])
    slack.post_action(payload)
    second = slack.answer()
    assert [o["value"] for o in find_element(second, "list_select")["options"]] == ["2", "1"]


def test_an_empty_page_has_no_checkboxes(slack: SlackHarness) -> None:
    with pytest.raises(KeyError):
        find_element(listing(slack), "list_select")


# --- acting on the selected rows ---------------------------------------------------------------


def test_pause_selected_changes_only_those_allowed_and_says_why_not(mixed: SlackHarness) -> None:
    page = listing(mixed)
    answer = press_selected(mixed, page, "list_bulk_pause", [1, 3, 4])
    assert answer["replace_original"] is True
    text = text_of(answer)
    assert ":white_check_mark: Paused: #1." in text
    assert ":warning: #3 not paused: #3 is already paused." in text
    assert ":warning: #4 not paused: #4 was already sent, so it can't be paused." in text
    assert [status(mixed, n) for n in range(1, 6)] == [
        "paused",
        "queued",
        "paused",
        "sent",
        "canceled",
    ]
    # The page is redrawn with the new state: #1 now offers Resume.
    menu = next(b for b in answer["blocks"] if b.get("block_id") == "row_1")["accessory"]
    assert [o["text"]["text"] for o in menu["options"]][0] == "Resume"


def test_resume_selected(mixed: SlackHarness) -> None:
    text = text_of(press_selected(mixed, listing(mixed), "list_bulk_resume", [2, 3, 5]))
    assert ":white_check_mark: Resumed: #3." in text
    assert "#2 not resumed: #2 isn't paused, so it can't be resumed." in text
    assert "#5 not resumed: #5 is already canceled." in text
    assert [status(mixed, n) for n in (2, 3, 5)] == ["queued", "queued", "canceled"]


def test_cancel_selected(mixed: SlackHarness) -> None:
    text = text_of(press_selected(mixed, listing(mixed), "list_bulk_cancel", [1, 3, 4, 5]))
    assert ":white_check_mark: Canceled: #1, #3." in text
    assert "#4 not canceled: #4 was already sent, so it can't be canceled." in text
    assert "#5 not canceled: #5 is already canceled." in text
    assert [status(mixed, n) for n in range(1, 6)] == [
        "canceled",
        "queued",
        "canceled",
        "sent",
        "canceled",
    ]
    with mixed.app.db.read() as session:
        canceled_by = session.exec(
            select(Event.request_id).where(Event.kind == "canceled", Event.actor == USER)
        ).all()
    assert len(canceled_by) == 3  # #5 earlier, #1 and #3 now, each by the clicker


def test_nothing_selected_changes_nothing(mixed: SlackHarness) -> None:
    answer = press_selected(mixed, listing(mixed), "list_bulk_cancel", [])
    assert "Tick one or more requests first" in text_of(answer)
    assert [status(mixed, n) for n in range(1, 4)] == ["queued", "queued", "paused"]


def test_a_tampered_selection_changes_nothing(mixed: SlackHarness) -> None:
    page = listing(mixed)
    payload = mixed.action_payload(
        "list_bulk_cancel", find_element(page, "list_bulk_cancel")["value"]
    )
    payload["state"] = {
        "values": {
            "list_select_0": {
                "list_select": {"type": "checkboxes", "selected_options": [{"value": "1; drop"}]}
            }
        }
    }
    mixed.post_action(payload)
    assert "out of date" in text_of(mixed.answer())
    assert status(mixed, 1) == "queued"


# --- delete ---------------------------------------------------------------------------------------


def drain_outbox(slack: SlackHarness) -> None:
    """Run the Slack outbox until it is empty, letting the per-channel pacing pass."""
    outbox = slack.app.outbox
    for _ in range(20):
        outbox.run_once()
        slack.clock.advance(timedelta(seconds=2))
        with slack.app.db.read() as session:
            if not session.exec(select(SlackOutbox).where(SlackOutbox.status == "pending")).all():
                return
    raise AssertionError("the outbox did not drain")


@pytest.fixture
def posted(slack: SlackHarness) -> SlackHarness:
    """#1 sent by SMS, its card in #sales, and a reply from the customer in its thread."""
    slack.set_policy(delay="0", send_window="always")
    slack.create(
        "Jane Doe",
        phone="+33 6 10 20 30 40",
        reference="INV-77",
        when="now",
        origin_channel=CHANNEL,
    )
    slack.app.dispatcher.run_until_idle()
    Feedback(slack.ops).inbound(
        sid="SMr1", from_="+33610203040", to="+15005550006", body="Jane here, love it"
    )
    drain_outbox(slack)
    card = slack.fake.messages(CHANNEL)[0]
    assert "Jane Doe" in json.dumps(card["blocks"])
    return slack


def confirm_delete(slack: SlackHarness, prompt: dict[str, Any], user: str) -> dict[str, Any]:
    button = find_element(prompt, "delete_confirm")
    assert button["style"] == "danger"
    slack.post_action(slack.action_payload("delete_confirm", button["value"], user=user))
    return slack.answer()


def test_an_admin_deletes_a_request_for_good(posted: SlackHarness) -> None:
    slack = posted
    prompt = slack.post_command("delete #1", user=ADMIN) and slack.answer()
    assert "Delete #1 for good?" in text_of(prompt) and "can't be undone" in text_of(prompt)
    assert slack.ops.show(slack.ws, 1).request.deleted_at is None  # asked first, nothing yet
    done = confirm_delete(slack, prompt, ADMIN)
    assert done["replace_original"] is True and "Deleted #1" in text_of(done)

    detail = slack.ops.show(slack.ws, 1)
    r = detail.request
    assert (r.customer_name, r.phone, r.email, r.reference) == ("deleted", None, None, None)
    assert r.deleted_at == slack.clock.now()
    for m in detail.messages:
        assert (m.to_address, m.body, m.subject, m.error_reason) == ("", None, None, None)
    stored = json.dumps([e.detail for e in detail.events])
    assert "love it" not in stored and "+33610203040" not in stored
    audit = [e for e in detail.events if e.kind == "deleted"]
    assert len(audit) == 1
    assert (audit[0].actor, audit[0].at, audit[0].detail["number"]) == (
        ADMIN,
        slack.clock.now(),
        1,
    )

    drain_outbox(slack)
    card = slack.fake.messages(CHANNEL)[0]
    shown = json.dumps([card["text"], card["blocks"]])
    assert "Deleted request" in shown
    assert "Jane" not in shown and "INV-77" not in shown and "•••• ••40" not in shown
    replies = slack.fake.thread(CHANNEL, card["ts"])[1:]
    assert "Deleted by <@U0ADMIN>" in replies[-1]["text"]
    with slack.app.db.read() as session:
        kept = json.dumps([row.payload for row in session.exec(select(SlackOutbox)).all()])
    assert "Jane" not in kept and "love it" not in kept
    # Gone from the list and from the customer's view; its number answers "deleted".
    assert "No request matches" in text_of(listing(slack))
    assert "No customer is called “deleted”" in text_of(
        slack.post_command("show customer deleted") and slack.answer()
    )
    again = slack.post_command("delete #1", user=ADMIN) and slack.answer()
    assert "#1 is already deleted." in text_of(again)


def test_an_admin_deletes_from_the_row_menu(posted: SlackHarness) -> None:
    slack = posted
    menu = next(b for b in listing(slack, user=ADMIN)["blocks"] if b.get("block_id") == "row_1")[
        "accessory"
    ]
    assert [o["text"]["text"] for o in menu["options"]] == ["Details", "Delete"]
    slack.post_action(slack.action_payload("list_row", selected="delete:1", user=ADMIN))
    prompt = slack.answer()
    assert prompt["replace_original"] is False and "Delete #1 for good?" in text_of(prompt)
    confirm_delete(slack, prompt, ADMIN)
    assert slack.ops.show(slack.ws, 1).request.customer_name == "deleted"


def test_keep_it_deletes_nothing(posted: SlackHarness) -> None:
    slack = posted
    slack.post_command("delete #1", user=ADMIN)
    prompt = slack.answer()
    slack.post_action(slack.action_payload("delete_keep", "1", user=ADMIN))
    assert "Kept #1: nothing was deleted." in text_of(slack.answer())
    assert prompt and slack.ops.show(slack.ws, 1).request.customer_name == "Jane Doe"


def test_someone_who_is_not_an_admin_cannot_delete(posted: SlackHarness) -> None:
    slack = posted
    refused = slack.post_command("delete #1") and slack.answer()
    assert "Only workspace admins can delete requests" in text_of(refused)
    menu = next(b for b in listing(slack)["blocks"] if b.get("block_id") == "row_1")
    assert menu["accessory"]["type"] == "button"  # Details only: no Delete
    slack.post_action(slack.action_payload("list_row", selected="delete:1"))
    assert "Only workspace admins" in text_of(slack.answer())
    # A confirmation pressed by a non-admin (a forwarded prompt, a forged click) is refused too.
    slack.post_action(slack.action_payload("delete_confirm", "1"))
    assert "Only workspace admins" in text_of(slack.answer())
    detail = slack.ops.show(slack.ws, 1)
    assert detail.request.customer_name == "Jane Doe" and detail.request.deleted_at is None
    assert detail.request.phone == "+33610203040"
    assert not [e for e in detail.events if e.kind == "deleted"]
    assert any(m.to_address == "+33610203040" for m in detail.messages)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("delete", "Say which requests"),
        ("delete #1 2", "Delete one request at a time"),
        ("delete #99", "There is no request #99."),
    ],
)
def test_delete_errors_are_precise(slack: SlackHarness, text: str, error: str) -> None:
    slack.create("Jane Doe")
    assert error in text_of(slack.post_command(text, user=ADMIN) and slack.answer())
    assert slack.ops.show(slack.ws, 1).request.deleted_at is None


def test_a_request_being_sent_cannot_be_deleted(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    with slack.app.db.write() as session:
        message = session.exec(select(Message)).one()
        message.status = "sending"  # handed to a provider this very moment
        session.add(message)
    slack.post_command("delete #1", user=ADMIN)
    answer = confirm_delete(slack, slack.answer(), ADMIN)
    assert "#1 is being sent right now" in text_of(answer)
    with slack.app.db.read() as session:
        request = session.exec(select(ReviewRequest)).one()
    assert request.customer_name == "Jane Doe" and request.deleted_at is None


def test_help_shows_delete_and_the_selection(slack: SlackHarness) -> None:
    text = text_of(slack.post_command("help") and slack.answer())
    assert "`/reviews delete #42`" in text and "admins; asks first" in text
    assert "tick rows and press Pause, Resume or Cancel selected" in text
    assert "`/reviews show customer jane@example.com`" in text


def test_an_unsubscribe_from_a_deleted_request_still_counts(slack: SlackHarness) -> None:
    import requests as http

    slack.set_policy(delay="0", send_window="always")
    slack.create("Jane Doe", email="jane@example.com", method="email", when="now")
    slack.app.dispatcher.run_until_idle()
    with slack.app.db.read() as session:
        token = session.exec(select(Message)).one().token
    slack.post_command("delete #1", user=ADMIN)
    confirm_delete(slack, slack.answer(), ADMIN)
    response = http.post(
        f"{slack.url.removesuffix('/slack/events')}/u/{token}",
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status_code == 200
    answer = slack.post_command("show customer jane@example.com") and slack.answer()
    email_field = answer["blocks"][2]["fields"][1]["text"]
    assert "Opted out" in email_field and "unsubscribed" in email_field


def test_a_request_deleted_before_its_card_went_out_never_reaches_the_channel(
    slack: SlackHarness,
) -> None:
    slack.create("Jane Doe", origin_channel=CHANNEL, delay=timedelta(days=1))
    slack.post_command("delete #1", user=ADMIN)
    confirm_delete(slack, slack.answer(), ADMIN)
    drain_outbox(slack)
    assert slack.fake.messages(CHANNEL) == []
    assert "Jane" not in json.dumps(slack.fake.calls_to("chat.postMessage"))


# --- cancel all queued ----------------------------------------------------------------------


def test_cancel_all_asks_again_when_the_queue_changed_since_the_count(slack: SlackHarness) -> None:
    for i in range(3):
        slack.create(f"C{i}", email=f"c{i}@example.com")
    prompt = slack.post_command("cancel all queued", user=ADMIN) and slack.answer()
    slack.create("Late", email="late@example.com")  # queued while the admin was reading
    confirm = find_element(prompt, "cancel_all_confirm")
    slack.post_action(slack.action_payload("cancel_all_confirm", confirm["value"], user=ADMIN))
    again = slack.answer()
    assert "Cancel all *4* queued or paused requests?" in text_of(again)
    assert slack.ops.count_queued(slack.ws) == 4  # nothing canceled on the old count
    button = find_element(again, "cancel_all_confirm")
    slack.post_action(slack.action_payload("cancel_all_confirm", button["value"], user=ADMIN))
    assert "Canceled 4 queued requests" in text_of(slack.answer())
    assert slack.ops.count_queued(slack.ws) == 0


def test_an_admin_lists_a_queued_request_within_slacks_five_menu_options(
    slack: SlackHarness,
) -> None:
    # Pause, Cancel, Reschedule, Edit, Details and Delete would be six: Slack refuses an
    # overflow menu of more than five, so Delete (still `/reviews delete #1`) gives way.
    slack.create("Jane Doe", when="delay", delay=timedelta(days=1))
    page = listing(slack, user=ADMIN)
    menu = next(b for b in page["blocks"] if b.get("block_id") == "row_1")["accessory"]
    labels = [o["text"]["text"] for o in menu["options"]]
    assert labels == ["Pause", "Cancel", "Reschedule", "Edit", "Details"]


def test_the_list_reads_who_administers_from_the_settings_it_reads_once(
    posted: SlackHarness,
) -> None:
    # Not a Slack admin: named in the workspace's `admins` setting, which /reviews list reads
    # once for both the Delete item and the page's filter.
    slack = posted

    def menu_of(user: str) -> list[str]:
        row = next(b for b in listing(slack, user=user)["blocks"] if b.get("block_id") == "row_1")
        accessory = row["accessory"]  # one action is a button, more an overflow menu
        return [o["text"]["text"] for o in accessory.get("options", [accessory])]

    assert menu_of(USER) == ["Details"]
    slack.set_policy(admins=[USER])
    assert menu_of(USER) == ["Details", "Delete"]
