"""Editing a request from Slack: the row menu's Edit, the modal, its field errors and the cooldown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain.status import PENDING, Status
from bot.usecases.inputs import RequestCreate
from handlers.blocks.listing import Row, row_actions
from tests.slack_harness import (  # noqa: F401
    ALICE,
    USER,
    SlackHarness,
    slack_fixture,
    text_of,
    typed,
)


def values(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base = {
        "name": typed("Jane Doe"),
        "phone": typed("+33610203040"),
        "email": typed(""),
        "reference": typed(""),
        "override": {"type": "checkboxes", "selected_options": []},
    }
    return base | overrides


def open_modal(slack: SlackHarness, number: int) -> dict[str, Any]:
    slack.post_action(slack.action_payload("list_row", selected=f"edit:{number}"))
    return slack.opened_view()


def test_edit_is_offered_only_before_anything_went_out(slack: SlackHarness) -> None:
    queued = slack.create("Jane Doe", phone="+33610203040", delay=timedelta(days=1))
    sent = slack.create("Paul Roy", phone="+33611111111", when="now", override_cooldown=True)
    slack.app.dispatcher.run_until_idle()
    detail = {n: slack.ops.show(slack.ws, n) for n in (queued, sent)}

    def verbs(number: int) -> list[str]:
        waiting = {Status(m.status) for m in detail[number].messages} & PENDING
        row = Row(detail[number].request, frozenset(waiting))
        return [verb for _, verb in row_actions(row)]

    assert "edit" in verbs(queued)
    assert "edit" not in verbs(sent)
    # Asked anyway (an old menu): refused before any modal opens.
    slack.post_action(slack.action_payload("list_row", selected=f"edit:{sent}"))
    assert "can't be edited any more" in text_of(slack.answer())
    assert slack.fake.views == []


def test_the_modal_is_prefilled_refuses_bad_fields_and_saves(slack: SlackHarness) -> None:
    number = slack.create(
        "Jane Doe", phone="+33610203040", delay=timedelta(days=1), reference="A-1"
    )
    view = open_modal(slack, number)
    assert view["callback_id"] == "edit_request" and view["title"]["text"] == f"Edit #{number}"
    initial = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]}
    assert initial["name"] == "Jane Doe" and initial["phone"] == "+33610203040"
    assert initial["reference"] == "A-1"
    response_url = slack.last_response_url

    bad = slack.post_view_submission(view, values(phone=typed("12"), email=typed("nope@")))
    assert bad.json()["response_action"] == "errors"
    assert set(bad.json()["errors"]) == {"phone", "email"}
    landline = slack.post_view_submission(view, values(phone=typed("01 42 68 53 00"))).json()
    assert set(landline["errors"]) == {"phone"}
    assert slack.ops.show(slack.ws, number).request.phone == "+33610203040"

    good = values(name=typed("Jane Martin"), phone=typed("06 22 33 44 55"), reference=typed("B-2"))
    assert slack.post_view_submission(view, good).text == ""
    request = slack.ops.show(slack.ws, number).request
    assert (request.customer_name, request.phone, request.reference) == (
        "Jane Martin",
        "+33622334455",
        "B-2",
    )
    assert f"#{number} saved" in text_of(slack.answer(response_url))


def test_a_recently_invited_contact_needs_the_box_ticked(slack: SlackHarness) -> None:
    slack.set_policy(cooldown_days=30)
    slack.ops.create(
        slack.ws,
        RequestCreate(name="Paul Roy", phone="+33611111111"),
        ALICE,
    )
    number = slack.create("Jane Doe", phone="+33610203040", delay=timedelta(days=1))
    view = open_modal(slack, number)
    moved = values(phone=typed("+33611111111"))
    refused = slack.post_view_submission(view, moved).json()
    assert refused["response_action"] == "errors"
    assert "Tick the box" in refused["errors"]["override"]
    assert slack.ops.show(slack.ws, number).request.phone == "+33610203040"
    ticked = moved | {
        "override": {"type": "checkboxes", "selected_options": [{"value": "override"}]}
    }
    assert slack.post_view_submission(view, ticked).text == ""
    assert slack.ops.show(slack.ws, number).request.phone == "+33611111111"


def test_slash_edit_opens_the_same_form(slack: SlackHarness) -> None:
    number = slack.create("Jane Doe", phone="+33610203040", delay=timedelta(days=1))
    slack.post_command(f"edit #{number}")
    view = slack.opened_view()
    assert view["callback_id"] == "edit_request"
    assert slack.post_view_submission(view, values(reference=typed("C-3"))).text == ""
    assert slack.ops.show(slack.ws, number).request.reference == "C-3"
    slack.post_command("edit")
    assert "Say which requests" in text_of(slack.answer())
    slack.post_command(f"edit #{number} #{number + 1}")
    assert "Edit one request at a time" in text_of(slack.answer())
