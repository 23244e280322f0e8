"""A message whose outcome is unknown: the team decides in the thread, "Mark as sent" or "Send again"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.usecases.feedback import Feedback
from handlers.blocks.card import ACTION_MARK_SENT, ACTION_SEND_AGAIN
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    CHANNEL,
    SlackHarness,
    find_element,
    slack_fixture,
    text_of,
)


def flush_outbox(slack: SlackHarness) -> None:
    """Run the outbox job until it has nothing left, letting its per-channel pacing pass."""
    outbox = slack.app.outbox
    for _ in range(20):
        outbox.run_once()
        slack.clock.advance(timedelta(seconds=2))


def lost_in_doubt(slack: SlackHarness) -> int:
    """Create a request whose send was lost in flight, and have reconciliation give up on it."""
    slack.set_policy(send_window="always", notify_channel=CHANNEL)
    number = slack.create("Jane Doe", phone="+33610203040", when="now")
    dispatcher = slack.app.dispatcher
    [claim] = dispatcher.claim_due()
    assert dispatcher.start_sending(claim) is not None  # the worker dies before calling out
    slack.clock.advance(timedelta(minutes=6))
    assert dispatcher.reap() == (0, 1)
    [message] = slack.ops.show(slack.ws, number).messages
    assert message.status == "unknown" and message.id is not None
    Feedback(slack.ops).report_unresolved(message.id, "Twilio has no record of it")
    flush_outbox(slack)
    return number


def asking_reply(slack: SlackHarness) -> dict[str, Any]:
    root = slack.fake.messages(CHANNEL)[0]  # the request's card
    asking = [
        m for m in slack.fake.thread(CHANNEL, root["ts"]) if "Mark as sent" in str(m.get("blocks"))
    ]
    assert len(asking) == 1, "one thread reply asks for the decision"
    return asking[0]


def click(slack: SlackHarness, action_id: str, number: int, reply: dict[str, Any]) -> None:
    payload = slack.action_payload(
        action_id, str(number), user=ADMIN, ephemeral=False, message_ts=reply["ts"]
    )
    payload["message"] = {"type": "message", "ts": reply["ts"], "text": reply["text"]}
    assert slack.post_action(payload).status_code == 200


def test_the_thread_asks_with_two_buttons_and_masks_the_contact(slack: SlackHarness) -> None:
    number = lost_in_doubt(slack)
    reply = asking_reply(slack)
    assert find_element(reply, ACTION_MARK_SENT)["value"] == str(number)
    assert find_element(reply, ACTION_SEND_AGAIN)["value"] == str(number)
    assert "Couldn't find out whether the SMS went out" in reply["text"]
    assert "+33610203040" not in str(slack.fake.all_sent())


def test_mark_as_sent_records_who_decided_and_replaces_the_buttons(slack: SlackHarness) -> None:
    number = lost_in_doubt(slack)
    reply = asking_reply(slack)
    click(slack, ACTION_MARK_SENT, number, reply)
    answer = slack.answer()
    assert answer["replace_original"] is True
    assert f"marked as sent by <@{ADMIN}>" in text_of(answer)
    assert "blocks" not in answer or ACTION_MARK_SENT not in str(answer["blocks"])
    detail = slack.ops.show(slack.ws, number)
    assert [m.status for m in detail.messages] == ["sent"]
    [event] = [e for e in detail.events if e.kind == "marked_sent"]
    assert event.actor == ADMIN
    assert slack.app.dispatcher.run_until_idle() == 0  # nothing goes to the customer

    click(slack, ACTION_MARK_SENT, number, reply)  # a stale button
    assert "no message in doubt" in slack.ephemeral()["text"]


def test_send_again_sends_one_new_message(slack: SlackHarness) -> None:
    number = lost_in_doubt(slack)
    click(slack, ACTION_SEND_AGAIN, number, asking_reply(slack))
    assert f"sent again by <@{ADMIN}>" in text_of(slack.answer())
    assert slack.app.dispatcher.run_until_idle() == 1
    assert slack.app.dispatcher.run_until_idle() == 0
    detail = slack.ops.show(slack.ws, number)
    assert [(m.kind, m.status) for m in detail.messages] == [
        ("initial", "unknown"),
        ("resend", "sent"),
    ]
