"""Modals, list controls and card buttons through the real HTTP endpoint and the fake Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.errors import NotFound
from bot.domain.import_file import read_csv
from bot.usecases.actors import Actor
from bot.usecases.import_plan import ImportOptions
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    ALICE,
    USER,
    SlackHarness,
    chose,
    find_element,
    slack_fixture,
    text_of,
    typed,
)


def picked(when: datetime) -> dict[str, Any]:
    return {"type": "datetimepicker", "selected_date_time": int(when.timestamp())}


def send_values(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = {
        "name": typed("Jane Doe"),
        "phone": typed("06 10 20 30 40"),
        "email": typed(""),
        "method": chose("sms_or_email"),
        "review_type": chose("service", "radio_buttons"),
        "reference": typed("A-1042"),
        "when": chose("now", "radio_buttons"),
        "at": {"type": "datetimepicker", "selected_date_time": None},
        "language": chose("fr"),
        "override": {"type": "checkboxes", "selected_options": []},
    }
    values.update(overrides)
    return values


def open_send_modal(slack: SlackHarness) -> dict[str, Any]:
    slack.post_command("send")
    return slack.opened_view()


# --- the send modal ----------------------------------------------------------------------------


def test_a_valid_submission_stores_the_request_and_confirms(slack: SlackHarness) -> None:
    view = open_send_modal(slack)
    response = slack.post_view_submission(view, send_values())
    assert response.status_code == 200 and response.text == ""
    request = slack.ops.show(slack.ws, 1).request
    assert (request.customer_name, request.phone, request.reference, request.language) == (
        "Jane Doe",
        "+33610203040",
        "A-1042",
        "fr",
    )
    assert request.origin_channel == "C0SALES" and request.created_by == USER
    assert request.scheduled_at == slack.clock.now()
    # Confirmed through the command's response_url, to the person who asked only.
    answer = slack.answer()
    assert answer["response_type"] == "ephemeral"
    assert "#1" in text_of(answer) and "Jane Doe" in text_of(answer)


def test_a_picked_time_schedules_the_request(slack: SlackHarness) -> None:
    view = open_send_modal(slack)
    when = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    slack.post_view_submission(
        view, send_values(when=chose("at", "radio_buttons"), at=picked(when))
    )
    assert slack.ops.show(slack.ws, 1).request.scheduled_at == when


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"phone": typed("12")}, {"phone": "'12' is not a valid phone number for FR."}),
        ({"phone": typed(""), "email": typed("jane@")}, {"email": "not a valid email address"}),
        (
            {"phone": typed("12"), "email": typed("jane@")},
            {"phone": "not a valid phone number", "email": "not a valid email address"},
        ),
        ({"phone": typed("")}, {"phone": "Give a mobile number or an email address."}),
        ({"phone": typed("01 23 45 67 89")}, {"phone": "landline"}),
        (
            {"method": chose("email")},
            {"email": "Email needs an email address."},
        ),
        ({"when": chose("at", "radio_buttons")}, {"at": "Pick the date and time"}),
        (
            {"when": chose("at", "radio_buttons"), "at": picked(datetime(2026, 1, 1, tzinfo=UTC))},
            {"at": "That time has already passed."},
        ),
        (
            {"at": picked(datetime(2026, 12, 1, tzinfo=UTC))},
            {"at": "You chose to send now"},
        ),
    ],
)
def test_each_invalid_field_gets_its_own_error_and_nothing_is_stored(
    slack: SlackHarness, overrides: dict[str, Any], errors: dict[str, str]
) -> None:
    view = open_send_modal(slack)
    response = slack.post_view_submission(view, send_values(**overrides))
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == set(errors)
    for block, message in errors.items():
        assert message in body["errors"][block]
    with pytest.raises(NotFound):
        slack.ops.show(slack.ws, 1)
    assert slack.fake.responses == []  # no confirmation


def test_the_cooldown_is_shown_on_the_checkbox_and_ticking_it_sends(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    view = open_send_modal(slack)
    body = slack.post_view_submission(view, send_values()).json()
    assert list(body["errors"]) == ["override"]
    assert "already asked" in body["errors"]["override"]
    ticked = {"type": "checkboxes", "selected_options": [{"value": "override"}]}
    response = slack.post_view_submission(view, send_values(override=ticked))
    assert response.text == ""
    assert slack.ops.show(slack.ws, 2).request.phone == "+33610203040"


# --- the list's row menu -----------------------------------------------------------------------


def test_row_menu_pauses_resumes_and_shows_details(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    slack.post_action(slack.action_payload("list_row", selected="pause:1"))
    answer = slack.answer()
    assert answer["replace_original"] is False and "Paused: #1." in text_of(answer)
    slack.post_action(slack.action_payload("list_row", selected="pause:1"))
    assert "#1 is already paused" in text_of(slack.answer())
    slack.post_action(slack.action_payload("list_row", selected="resume:1"))
    assert "Resumed: #1." in text_of(slack.answer())
    slack.post_action(slack.action_payload("list_row", selected="details:1"))
    details = text_of(slack.answer())
    assert "*Phone*\n+33610203040" in details and "*Landing page*" in details


def test_row_menu_cancel_asks_first(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    slack.post_action(slack.action_payload("list_row", selected="cancel:1"))
    prompt = slack.answer()
    assert "Cancel *#1*?" in text_of(prompt)
    assert slack.ops.show(slack.ws, 1).request.status == "queued"
    slack.post_action(slack.action_payload("row_cancel_confirm", "1"))
    assert "Canceled: #1." in text_of(slack.answer())
    assert slack.ops.show(slack.ws, 1).request.status == "canceled"


def test_row_menu_resend_only_what_failed(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    slack.post_action(slack.action_payload("list_row", selected="resend:1"))
    assert "#1 still has a message on its way, so it can't be resent." in text_of(slack.answer())


def test_reschedule_from_the_row_menu_opens_a_modal_and_moves_the_request(
    slack: SlackHarness,
) -> None:
    slack.create("Jane Doe", phone="+33610203040", delay=timedelta(hours=1))
    slack.post_action(slack.action_payload("list_row", selected="reschedule:1"))
    view = slack.opened_view()
    assert view["callback_id"] == "reschedule_request" and view["title"]["text"] == "Reschedule #1"
    picker = view["blocks"][0]["element"]
    assert picker["type"] == "datetimepicker"
    assert picker["initial_date_time"] == int((slack.clock.now() + timedelta(hours=1)).timestamp())
    response_url = slack.last_response_url
    body = slack.post_view_submission(view, {"at": picked(datetime(2020, 1, 1, tzinfo=UTC))}).json()
    assert body == {"response_action": "errors", "errors": {"at": "That time has already passed."}}
    when = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert slack.post_view_submission(view, {"at": picked(when)}).text == ""
    assert slack.ops.show(slack.ws, 1).request.scheduled_at == when
    assert "#1 rescheduled" in text_of(slack.answer(response_url))


# --- the filter modal --------------------------------------------------------------------------


def test_the_filter_modal_replaces_the_list(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    slack.create("Bob", email="bob@example.com", review_type="product")
    page = slack.post_command("list") and slack.answer()
    button = find_element(page, "list_filter_open")
    slack.post_action(slack.action_payload("list_filter_open", button["value"]))
    page_url = slack.last_response_url  # the list message's response_url, from the click
    view = slack.opened_view()
    assert view["callback_id"] == "list_filter"
    dates = {
        "from": {"type": "datepicker", "selected_date": "2026-11-30"},
        "to": {"type": "datepicker", "selected_date": "2026-11-01"},
    }
    bad = slack.post_view_submission(view, dates).json()
    assert bad["errors"] == {"to": "from: must come before to:."}
    ok = slack.post_view_submission(
        view,
        {
            "type": chose("product"),
            "status": {"type": "multi_static_select", "selected_options": [{"value": "queued"}]},
            "by": {"type": "users_select", "selected_user": USER},
        },
    )
    assert ok.text == ""
    filtered = slack.answer(page_url)
    assert filtered["replace_original"] is True
    assert "*#2* Bob" in text_of(filtered) and "*#1* Jane" not in text_of(filtered)


# --- the request card's buttons in a channel ---------------------------------------------------


@pytest.mark.parametrize(
    ("action_id", "status", "said"),
    [
        ("request_pause", "paused", "Paused: #1."),
        ("request_cancel", "canceled", "Canceled: #1."),
        ("request_send_now", "queued", "#1 goes out"),
    ],
)
def test_card_buttons_act_and_answer_the_clicker(
    slack: SlackHarness, action_id: str, status: str, said: str
) -> None:
    slack.create("Jane Doe", phone="+33610203040", delay=timedelta(days=1))
    response = slack.post_action(slack.action_payload(action_id, "1", ephemeral=False))
    assert response.status_code == 200
    ephemeral = slack.ephemeral()
    assert ephemeral["user"] == USER and ephemeral["channel"] == "C0SALES"
    assert said in ephemeral["text"]
    request = slack.ops.show(slack.ws, 1).request
    assert request.status == status
    if action_id == "request_send_now":
        assert request.scheduled_at == slack.clock.now()


def test_card_resume_and_refusals(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    slack.ops.pause(slack.ws, [1], ALICE)
    slack.post_action(slack.action_payload("request_resume", "1", ephemeral=False))
    assert "Resumed: #1." in slack.ephemeral()["text"]
    slack.post_action(slack.action_payload("request_resume", "1", ephemeral=False))
    assert "#1 not resumed: #1 isn't paused" in slack.ephemeral()["text"]
    slack.ops.cancel(slack.ws, [1], ALICE)
    slack.post_action(slack.action_payload("request_send_now", "1", ephemeral=False))
    assert ":warning:" in slack.ephemeral()["text"]


def test_row_menu_resends_a_failed_request(slack: SlackHarness) -> None:
    from sqlmodel import select

    from store.models import Message

    slack.create("Jane Doe", phone="+33610203040", when="now")
    slack.app.dispatcher.run_until_idle()
    with slack.app.db.write() as session:
        message = session.exec(select(Message)).one()
        message.status = "failed"
    with slack.app.db.write() as session:
        from bot.usecases.journal import refresh_status
        from store.models import ReviewRequest

        refresh_status(session, session.exec(select(ReviewRequest)).one(), slack.clock.now())
    slack.post_action(slack.action_payload("list_row", selected="resend:1"))
    assert "#1 is being sent again" in text_of(slack.answer())
    assert [m.kind for m in slack.ops.show(slack.ws, 1).messages] == ["initial", "resend"]


def test_the_filter_modal_keeps_the_words_it_has_no_field_for(slack: SlackHarness) -> None:
    """`/reviews list import:1`, then the filter modal: what is chosen there is added to the
    import word, not put in its place (the modal has no field for imports or sent days)."""
    slack.create("Walk-in", phone="+33610203040")
    rows = b"name,phone\nJane Doe,0611111111\nBob Martin,0612121212\n"
    plan = slack.ops.imports.check(slack.ws, read_csv(rows), ImportOptions())
    slack.ops.imports.confirm(slack.ws, plan, Actor(ADMIN, "boss", admin=True), file_name="a.csv")
    page = slack.post_command("list import:1") and slack.answer()
    assert "Walk-in" not in text_of(page) and "Jane Doe" in text_of(page)
    button = find_element(page, "list_filter_open")
    slack.post_action(slack.action_payload("list_filter_open", button["value"]))
    page_url = slack.last_response_url
    view = slack.opened_view()
    ok = slack.post_view_submission(
        view,
        {"status": {"type": "multi_static_select", "selected_options": [{"value": "queued"}]}},
    )
    assert ok.text == ""
    shown = text_of(slack.answer(page_url))
    assert "Jane Doe" in shown and "Bob Martin" in shown and "Walk-in" not in shown
