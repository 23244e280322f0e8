"""/reviews show customer and the Customer button, over signed HTTP against the fake Slack."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlmodel import select

from bot.usecases.feedback import Feedback
from handlers.blocks.limits import assert_within_limits
from store.models import Event, Message, ReviewRequest
from tests.helpers import CliInvoke, cli_invoker
from tests.slack_harness import (  # noqa: F401
    SlackHarness,
    find_element,
    slack_fixture,
    text_of,
)

JANE_PHONE = "+33610203040"


def ask(slack: SlackHarness, text: str) -> dict[str, Any]:
    """Run /reviews <text>; return the ephemeral answer."""
    assert slack.post_command(text).status_code == 200
    answer = slack.answer()
    assert answer["response_type"] == "ephemeral"
    assert_within_limits(answer, kind="message")
    return answer


def click(
    slack: SlackHarness, message: dict[str, Any], action_id: str, *, block_id: str | None = None
) -> dict[str, Any]:
    """Press a button of a message as Slack would; return the answer at its response_url."""
    element = find_element(message, action_id)
    payload = slack.action_payload(action_id, element["value"])
    if block_id is not None:
        payload["actions"][0]["block_id"] = block_id
    assert slack.post_action(payload).status_code == 200
    answer = slack.answer()
    assert_within_limits(answer, kind="message")
    return answer


def block_ids(message: dict[str, Any]) -> list[str]:
    return [b.get("block_id", "") for b in message.get("blocks", [])]


@pytest.fixture
def customers(slack: SlackHarness) -> SlackHarness:
    """Jane (#1, #2 by phone and email), Bob (#3), and another Jane Doe (#4)."""
    slack.set_policy(cooldown_days=0)
    slack.create("Jane Doe", phone="06 10 20 30 40", email="jane@example.com", reference="A-1")
    slack.create("Jane Doe", phone="+33 6 10 20 30 40", email="jane@example.com")
    slack.create("Bob Martin", phone="06 12 34 56 78", email="bob@example.com")
    slack.create("jane doe", phone="06 99 88 77 66")
    return slack


# --- finding the customer -----------------------------------------------------------------------


def test_a_phone_in_national_form_finds_the_customer_with_full_contact(
    customers: SlackHarness,
) -> None:
    answer = ask(customers, "show customer 06 10 20 30 40")
    text = text_of(answer)
    assert "Customer · Jane Doe" in text
    assert "+33 6 10 20 30 40 (+33610203040)" in text and "jane@example.com" in text
    assert "customer_request_2" in block_ids(answer) and "customer_request_1" in block_ids(answer)
    assert block_ids(answer).index("customer_request_2") < block_ids(answer).index(
        "customer_request_1"
    )
    assert "customer_request_3" not in block_ids(answer)
    assert "customer_request_4" not in block_ids(answer)
    assert "ref A-1" in text and "Requests 1–2 of 2" in text


@pytest.mark.parametrize("typed", ["jane@example.com", " JANE@Example.COM "])
def test_an_email_finds_the_customer_whatever_its_case(customers: SlackHarness, typed: str) -> None:
    answer = ask(customers, f"show customer {typed}")
    assert "Customer · Jane Doe" in text_of(answer)
    assert {"customer_request_1", "customer_request_2"} <= set(block_ids(answer))


def test_a_name_several_customers_share_asks_which_one(customers: SlackHarness) -> None:
    answer = ask(customers, "show customer JANE DOE")
    text = text_of(answer)
    assert "2 customers match “JANE DOE”. Which one?" in text
    assert "+33 6 10 20 30 40" in text and "+33 6 99 88 77 66" in text
    choices = [b for b in answer["blocks"] if b.get("block_id", "").startswith("customer_choice_")]
    assert len(choices) == 2
    other = next(b for b in choices if "99 88 77 66" in b["text"]["text"])
    chosen = click(customers, {"blocks": [other]}, "customer_open", block_id=other["block_id"])
    assert chosen["replace_original"] is True  # the choice is replaced by the customer
    assert "customer_request_4" in block_ids(chosen)
    assert "customer_request_1" not in block_ids(chosen)


def test_a_unique_name_shows_the_customer_at_once(customers: SlackHarness) -> None:
    answer = ask(customers, "show customer bob")  # part of "Bob Martin"
    assert "Customer · Bob Martin" in text_of(answer)
    assert "customer_request_3" in block_ids(answer)


def test_a_name_used_in_an_older_request_still_finds_the_customer(slack: SlackHarness) -> None:
    slack.set_policy(cooldown_days=0)
    slack.create("Jane Doe", phone=JANE_PHONE)
    slack.create("Jane Smith", phone=JANE_PHONE)  # married since: the contact takes the new name
    answer = ask(slack, "show customer jane doe")
    assert "Customer · Jane Smith" in text_of(answer)
    lines = {
        b["block_id"]: b["text"]["text"]
        for b in answer["blocks"]
        if b.get("block_id", "").startswith("customer_request_")
    }
    assert "as Jane Doe" in lines["customer_request_1"]
    assert " as " not in lines["customer_request_2"]
    assert "by <@U0ALICE>" in lines["customer_request_2"]


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("show customer", "Say whom to show"),
        ("show customer nobody", "No customer is called “nobody”."),
        ("show customer 06 00 00 00 01", "No customer has the number +33 6 00 00 00 01."),
        ("show customer zoe@example.com", "No customer has the address zoe@example.com."),
        ("show customer 12", "'12' is not a valid phone number for FR."),
        ("show customer jane@", "not a valid email address"),
    ],
)
def test_what_finds_nobody_says_why(customers: SlackHarness, typed: str, error: str) -> None:
    assert error in text_of(ask(customers, typed))


# --- opt-outs -----------------------------------------------------------------------------------


def test_opt_outs_are_shown_per_channel_with_their_dates(slack: SlackHarness) -> None:
    slack.set_policy(delay="0", send_window="always")
    slack.create(
        "Jane Doe", phone=JANE_PHONE, email="jane@example.com", method="sms_and_email", when="now"
    )
    slack.app.dispatcher.run_until_idle()
    before = text_of(ask(slack, "show customer jane@example.com"))
    assert before.count(":white_check_mark: Allowed") == 2

    slack.clock.advance(timedelta(hours=1))  # 11:00 UTC: the customer texts STOP
    Feedback(slack.ops).inbound(sid="SMstop1", from_=JANE_PHONE, to="+15005550006", body="STOP")
    slack.clock.advance(timedelta(hours=1))  # 12:00 UTC: and unsubscribes by email
    with slack.app.db.read() as session:
        email = session.exec(select(Message).where(Message.channel == "email")).one()
    base = slack.url.removesuffix("/slack/events")
    response = requests.post(
        f"{base}/u/{email.token}",
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status_code == 200

    after = ask(slack, "show customer 0610203040")
    fields = [f["text"] for f in after["blocks"][2]["fields"]]
    assert "*SMS and WhatsApp*" in fields[0] and "Opted out" in fields[0]
    assert "2026-11-23 12:00 CET" in fields[0] and "replied STOP" in fields[0]
    assert "*Email*" in fields[1] and "Opted out" in fields[1]
    assert "2026-11-23 13:00 CET" in fields[1] and "unsubscribed" in fields[1]
    assert "Allowed" not in text_of(after)


def test_a_customer_without_email_says_so(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone=JANE_PHONE)
    fields = [f["text"] for f in ask(slack, "show customer Jane Doe")["blocks"][2]["fields"]]
    assert fields == ["*SMS and WhatsApp*\n:white_check_mark: Allowed", "*Email*\nNo address"]


# --- grouped, flat, pages -----------------------------------------------------------------------


def test_grouped_by_request_or_one_flat_list_of_messages(slack: SlackHarness) -> None:
    slack.set_policy(delay="0", send_window="always", cooldown_days=0)
    slack.create("Jane Doe", phone=JANE_PHONE, when="now")
    slack.app.dispatcher.run_until_idle()
    slack.clock.advance(timedelta(hours=1))
    Feedback(slack.ops).inbound(
        sid="SMreply1", from_=JANE_PHONE, to="+15005550006", body="Thanks, will do"
    )
    slack.clock.advance(timedelta(days=1))
    slack.create("Jane Doe", phone=JANE_PHONE, email="jane@example.com", delay=timedelta(days=2))

    grouped = ask(slack, "show customer jane doe")
    first = next(b for b in grouped["blocks"] if b.get("block_id") == "customer_request_1")
    assert first["text"]["text"].startswith("*#1* · ")
    assert "Initial · SMS to +33610203040" in first["text"]["text"]
    assert "Replied" in first["text"]["text"] and "\n>Thanks, will do" in first["text"]["text"]
    assert first["accessory"]["action_id"] == "list_row_details"
    assert first["accessory"]["value"] == "1"

    flat = click(slack, grouped, "customer_view_toggle")
    assert flat["replace_original"] is True
    assert not any(b.startswith("customer_request_") for b in block_ids(flat))
    lines = "\n".join(
        b["text"]["text"] for b in flat["blocks"] if b["type"] == "section" and "text" in b
    ).splitlines()
    mine = [line for line in lines if line.startswith("`#")]
    assert [line.split("`")[1] for line in mine] == ["#2", "#1", "#1"]  # newest first
    assert "Replied" in mine[1] and "Initial" in mine[2]
    assert "Messages 1–3 of 3" in text_of(flat)
    assert find_element(flat, "customer_view_toggle")["text"]["text"] == "Group by request"

    back = click(slack, flat, "customer_view_toggle")
    assert "customer_request_2" in block_ids(back)


def test_many_requests_are_paged_with_a_note_of_how_many_more(slack: SlackHarness) -> None:
    slack.set_policy(cooldown_days=0)
    for _ in range(12):
        slack.create("Jane Doe", phone=JANE_PHONE)
    first = ask(slack, "show customer jane doe")
    numbers = [b for b in block_ids(first) if b.startswith("customer_request_")]
    assert numbers == [f"customer_request_{n}" for n in range(12, 2, -1)]
    assert "Requests 1–10 of 12, newest first. 2 more: press Older." in text_of(first)
    with pytest.raises(KeyError):
        find_element(first, "customer_view_newer")
    older = click(slack, first, "customer_view_older")
    assert [b for b in block_ids(older) if b.startswith("customer_request_")] == [
        "customer_request_2",
        "customer_request_1",
    ]
    assert "Requests 11–12 of 12" in text_of(older)
    newer = click(slack, older, "customer_view_newer")
    assert "customer_request_12" in block_ids(newer)


# --- the Customer button in a request's details --------------------------------------------------


def test_the_details_of_a_request_open_its_customer(customers: SlackHarness) -> None:
    details = ask(customers, "show #2")
    button = find_element(details, "customer_open")
    assert button["text"]["text"].startswith("Customer")
    view = click(customers, details, "customer_open")
    assert view["replace_original"] is False  # the details stay; the customer comes below
    assert "Customer · Jane Doe" in text_of(view)
    assert {"customer_request_1", "customer_request_2"} <= set(block_ids(view))


def test_the_row_details_open_the_customer_too(customers: SlackHarness) -> None:
    listing = ask(customers, "list bob")
    payload = customers.action_payload("list_row", selected="details:3")
    assert customers.post_action(payload).status_code == 200
    details = customers.answer()
    assert listing and "Customer · Bob Martin" in text_of(
        click(customers, details, "customer_open")
    )


def test_a_customer_button_of_another_workspace_or_tampered_shows_nothing(
    customers: SlackHarness,
) -> None:
    payload = customers.action_payload("customer_open", '{"c":999}')
    customers.post_action(payload)
    assert "That customer doesn't exist" in text_of(customers.answer())
    customers.post_action(customers.action_payload("customer_open", "not json"))
    assert "out of date" in text_of(customers.answer())


# --- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    invoke("settings", "set", "send_window=always", "cooldown_days=0", "region=FR")
    return invoke


def test_cli_customer_shows_contact_opt_outs_and_requests(run) -> None:  # type: ignore[no-untyped-def]
    assert run("send", "Jane Doe", "--phone", "0610203040", "--ref", "A-7").exit_code == 0
    assert run("send", "Jane Doe", "--phone", "0610203040", "--in", "2d").exit_code == 0
    assert run("send", "Bob", "--email", "bob@example.com").exit_code == 0
    result = run("customer", "06", "10", "20", "30", "40")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Jane Doe" in out and "+33 6 10 20 30 40 (+33610203040)" in out
    assert "SMS/WhatsApp  allowed" in out and "Requests      2" in out
    assert out.index("#2  queued") < out.index("#1  sent") and "ref A-7" in out
    assert "#3" not in out and "Bob" not in out
    flat = run("customer", "jane", "doe", "--flat")
    assert flat.exit_code == 0, flat.output
    rows = [line for line in flat.output.splitlines() if line.startswith("#")]
    assert [r.split()[0] for r in rows] == ["#2", "#1"]


def test_cli_customer_refuses_what_it_cannot_read_or_choose(run) -> None:  # type: ignore[no-untyped-def]
    run("send", "Jane Doe", "--phone", "0610203040")
    run("send", "Jane Doe", "--phone", "0699887766")
    ambiguous = run("customer", "jane", "doe")
    assert ambiguous.exit_code == 2
    assert "Several customers match 'jane doe'" in ambiguous.output
    assert "+33610203040" in ambiguous.output and "+33699887766" in ambiguous.output
    assert "phone number or email" in ambiguous.output
    for args, error in (
        (["customer", "nobody"], "No customer is called"),
        (["customer", "12"], "not a valid phone number"),
    ):
        result = run(*args)
        assert result.exit_code == 2 and error in result.output


def test_cli_delete_asks_first_and_erases(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from store.db import Database

    run("send", "Jane Doe", "--phone", "0610203040", "--ref", "A-7", "--in", "1d")
    kept = run("delete", "1", input="n\n")
    assert kept.exit_code == 1 and "Erase #1 for good?" in kept.output
    assert "Jane Doe" in run("customer", "jane").output
    done = run("delete", "#1", "--yes")
    assert done.exit_code == 0 and "#1 deleted" in done.output
    db = Database(database_url)
    try:
        with db.read() as session:
            request = session.exec(select(ReviewRequest)).one()
            audit = session.exec(select(Event).where(Event.kind == "deleted")).one()
    finally:
        db.dispose()
    assert (request.customer_name, request.phone, request.reference) == ("deleted", None, None)
    assert request.status == "canceled" and audit.actor.startswith("cli:")
    again = run("delete", "1", "--yes")
    assert again.exit_code == 2 and "#1 is already deleted." in again.output
    assert run("delete", "7", "--yes").exit_code == 2


def test_a_request_with_more_messages_than_fit_says_how_many_more() -> None:
    from datetime import UTC, datetime

    from handlers.blocks.controls import CustomerState
    from handlers.blocks.customer import customer_reply
    from store.models import Contact, ReviewRequest
    from store.queries import ContactHistory

    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    contact = Contact(id=1, workspace_id=1, name="Jane", phone=JANE_PHONE, created_at=now)
    request = ReviewRequest(
        id=1,
        workspace_id=1,
        number=1,
        contact_id=1,
        customer_name="Jane",
        method="sms",
        channel="sms",
        status="failed",
        created_by="U0ALICE",
        created_at=now,
        updated_at=now,
    )
    messages = [
        Message(
            id=i,
            workspace_id=1,
            request_id=1,
            kind="reminder",
            channel="sms",
            to_address=JANE_PHONE,
            status="failed",
            due_at=now,
            token=f"t{i}",
            error_reason="R" * 300,
            created_at=now,
            updated_at=now,
        )
        for i in range(1, 31)
    ]
    reply = customer_reply(
        ContactHistory(contact, [request], {1: messages}, {1: []}, 1), CustomerState(1)
    )
    section = next(b for b in reply.blocks if b.get("block_id") == "customer_request_1")
    text = section["text"]["text"]
    assert len(text) <= 3000 and text.count("Reminder · SMS") < 30
    shown = text.count("Reminder · SMS")
    assert text.endswith(f"…{30 - shown} more: press Details")


def test_cli_show_customer_is_the_customer_command(run) -> None:  # type: ignore[no-untyped-def]
    run("send", "Jane Doe", "--phone", "0610203040")
    shown = run("show", "customer", "+33", "6", "10", "20", "30", "40")
    assert shown.exit_code == 0, shown.output
    assert shown.output == run("customer", "jane", "doe").output
    assert "Customer      Jane Doe" in shown.output
    missing = run("show", "customer")
    assert missing.exit_code == 2 and "reviewops show customer EMAIL|PHONE|NAME" in missing.output
    several = run("show", "1", "2")
    assert several.exit_code == 2 and "one request at a time" in several.output
    assert run("show", "1").exit_code == 0
