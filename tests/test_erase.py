"""Erasing a customer: `reviewops customer erase`, and from the customer view in Slack.

Everything of the customer goes (as a delete does, request by request, and the contact row);
what they had opted out of stays only as a keyed hash, so a later request to them is refused
until they text START.
"""

# ruff: noqa: F811  (pytest fixtures imported by name and used as arguments)

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.usecases.feedback import Feedback
from store.models import (
    Contact,
    Event,
    Message,
    ReviewRequest,
    SlackOutbox,
    Suppression,
)
from tests.helpers import CliInvoke, cli_invoker
from tests.slack_harness import (
    ADMIN,
    CHANNEL,
    SlackHarness,
    find_element,
    slack_fixture,  # noqa: F401
    text_of,
)
from tests.test_slack_bulk import drain_outbox, posted  # noqa: F401
from tests.test_webhooks_twilio import PHONE, Web, sent_sms, web  # noqa: F401

JANE = "+33610203040"
REFUSED = "This customer asked to be erased and had opted out of SMS and WhatsApp"


def everything_stored(app: Any) -> str:
    """Every row a customer's data could be in, as one text."""
    with app.db.read() as session:
        rows: list[Any] = []
        for table in (ReviewRequest, Message, Event, Contact, SlackOutbox, Suppression):
            rows += [row.model_dump(mode="json") for row in session.exec(select(table)).all()]
    return json.dumps(rows)


def suppressions(app: Any) -> list[Suppression]:
    with app.db.read() as session:
        return list(session.exec(select(Suppression)).all())


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def run(web: Web, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    """The CLI on the database of the served app (whose fake Twilio takes STOP and START)."""
    return cli_invoker(database_url, monkeypatch, tmp_path, region="US")


def test_cli_erase_asks_first_and_leaves_only_a_hash_of_the_opt_out(
    web: Web, run: CliInvoke
) -> None:
    sent_sms(web, reference="INV-9")
    assert web.inbound("I loved the bike") == 200
    assert web.inbound("STOP") == 200
    assert web.contact().phone_opted_out_at is not None

    kept = run("customer", "erase", PHONE, input="n\n")
    assert kept.exit_code == 1 and "Erase Jane Doe" in kept.output and "1 request(s)" in kept.output
    assert "Jane Doe" in everything_stored(web.app)

    done = run("customer", "erase", "+33 6 15 55 01 00", "--yes")  # another way to write it
    assert done.exit_code == 0, done.output
    assert "Erased the customer and 1 request(s)" in done.output

    stored = everything_stored(web.app)
    for personal in ("Jane", "615550100", "INV-9", "loved the bike"):
        assert personal not in stored, personal
    [row] = suppressions(web.app)
    assert row.kind == "phone" and re.fullmatch(r"[0-9a-f]{64}", row.digest)
    with web.app.db.read() as session:
        request = session.exec(select(ReviewRequest)).one()
        audit = session.exec(select(Event).where(Event.kind == "deleted")).one()
        bodies = [(m.body, m.to_address) for m in session.exec(select(Message)).all()]
    assert bodies == [(None, "")]
    assert request.deleted_at is not None and request.status == "unsubscribed"
    assert audit.actor.startswith("cli:") and audit.detail["erased"] == "customer"
    # The audit trail names the erasure with the customer masked, never in full.
    trail = run("audit", "--action", "erase")
    assert trail.exit_code == 0 and "erase" in trail.output, trail.output
    assert "•" in trail.output and "615550100" not in trail.output

    again = run("customer", "erase", PHONE, "--yes")
    assert again.exit_code == 2 and "No customer has the number" in again.output


def test_cli_erase_refuses_what_it_cannot_find_or_choose(web: Web, run: CliInvoke) -> None:
    web.create(name="Jane Doe", phone="+14155550101", when="delay")
    web.create(name="Jane Doe", phone="+14155550102", when="delay")
    for args, error in (
        (["customer", "erase"], "Say whom to erase"),
        (["customer", "erase", "nobody@example.com", "--yes"], "No customer has the address"),
        (["customer", "erase", "jane", "doe", "--yes"], "Several customers match 'jane doe'"),
        (["customer", "erase", "12", "--yes"], "not a valid phone number"),
    ):
        result = run(*args)
        assert result.exit_code == 2 and error in result.output, result.output
    assert "Jane Doe" in everything_stored(web.app) and suppressions(web.app) == []


def test_an_erased_opted_out_customer_is_refused_until_they_text_start(
    web: Web, run: CliInvoke
) -> None:
    sent_sms(web)
    web.inbound("STOP")
    assert run("customer", "erase", PHONE, "--yes").exit_code == 0

    refused = run("send", "Jane Again", "--phone", PHONE, "--via", "sms")
    assert refused.exit_code == 2 and REFUSED in refused.output, refused.output
    with web.app.db.read() as session:
        assert len(session.exec(select(ReviewRequest)).all()) == 1  # nothing stored

    assert web.inbound("START") == 200  # the signed Twilio webhook
    assert suppressions(web.app) == []
    allowed = run("send", "Jane Again", "--phone", PHONE, "--via", "sms")
    assert allowed.exit_code == 0, allowed.output


def test_an_erased_customer_who_had_not_opted_out_leaves_no_trace(web: Web, run: CliInvoke) -> None:
    sent_sms(web)
    assert run("customer", "erase", PHONE, "--yes").exit_code == 0
    assert suppressions(web.app) == []
    assert "615550100" not in everything_stored(web.app)
    assert run("send", "Jane", "--phone", PHONE, "--via", "sms").exit_code == 0


# --- Slack --------------------------------------------------------------------------------------


def show_customer(slack: SlackHarness, user: str) -> dict[str, Any]:
    assert slack.post_command(f"show customer {JANE}", user=user).status_code == 200
    return slack.answer()


def click(slack: SlackHarness, message: dict[str, Any], action_id: str, user: str) -> Any:
    element = find_element(message, action_id)
    assert slack.post_action(slack.action_payload(action_id, element["value"], user=user))
    return slack.answer()


def test_an_admin_erases_a_customer_from_the_view(posted: SlackHarness) -> None:
    slack = posted
    Feedback(slack.ops).inbound(sid="SMs1", from_=JANE, to="+15005550006", body="STOP")
    drain_outbox(slack)
    view = show_customer(slack, ADMIN)
    button = find_element(view, "customer_erase")
    assert button["style"] == "danger"

    prompt = click(slack, view, "customer_erase", ADMIN)
    assert "Erase Jane Doe for good?" in text_of(prompt) and "can't be undone" in text_of(prompt)
    kept = click(slack, prompt, "customer_erase_keep", ADMIN)
    assert "nothing was erased" in text_of(kept)
    assert "Jane Doe" in everything_stored(slack.app)

    done = click(slack, prompt, "customer_erase_confirm", ADMIN)
    assert done["replace_original"] is True and "Erased the customer and 1 request" in text_of(done)
    drain_outbox(slack)
    card = slack.fake.messages(CHANNEL)[0]
    shown = json.dumps([card["text"], card["blocks"]])
    assert "Jane" not in shown and "INV-77" not in shown
    replies = slack.fake.thread(CHANNEL, card["ts"])[1:]
    thread = json.dumps([(r["text"], r.get("blocks")) for r in replies])  # as they read now
    assert "love it" not in thread and "Jane" not in thread  # replies and alerts overwritten
    assert "Erased at the customer's request by <@U0ADMIN>" in thread
    stored = everything_stored(slack.app)
    assert "Jane" not in stored and "10203040" not in stored and "love it" not in stored
    assert [s.kind for s in suppressions(slack.app)] == ["phone"]

    # A request to them is refused with the reason, nothing stored, until they text START.
    refused = slack.post_command(f"send Jane Doe {JANE}") and slack.answer()
    assert REFUSED in text_of(refused)
    Feedback(slack.ops).inbound(sid="SMs2", from_=JANE, to="+15005550006", body="START")
    allowed = slack.post_command(f"send Jane Doe {JANE}") and slack.answer()
    assert "#2" in text_of(allowed)


def test_someone_who_is_not_an_admin_cannot_erase(posted: SlackHarness) -> None:
    slack = posted
    view = show_customer(slack, "U0ALICE")
    with pytest.raises(KeyError):
        find_element(view, "customer_erase")
    # A forwarded prompt or a forged button: refused again at the confirmation.
    contact = slack.ops.find_customer(slack.ws, JANE).history.contact
    slack.post_action(slack.action_payload("customer_erase_confirm", str(contact.id)))
    assert "Only workspace admins can erase customers" in text_of(slack.answer())
    assert "Jane Doe" in everything_stored(slack.app)
