"""Times as people type them (workspace timezone, DST-correct) and as Slack shows them back
(each viewer's timezone, with a workspace-timezone fallback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.errors import InvalidInput
from bot.domain.timing import parse_when, slack_date_token
from handlers.quick_send import parse_quick_send
from tests.slack_harness import (  # noqa: F401
    SlackHarness,
    slack_fixture,
    text_of,
    typed,
)
from tests.test_cli import run  # noqa: F401  (the CLI fixture)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday, 11:00 in Paris


# --- showing times: the pure helper ----------------------------------------------------------


def test_the_token_lets_slack_localise_and_falls_back_to_the_workspace_zone() -> None:
    winter = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 9, 5, tzinfo=UTC)
    stamp = int(winter.timestamp())
    assert slack_date_token(winter, "Europe/Paris") == (
        f"<!date^{stamp}^{{date_short_pretty}} {{time}}|2026-11-23 10:05 CET>"
    )
    assert slack_date_token(summer, "Europe/Paris").endswith("|2026-07-01 11:05 CEST>")
    assert slack_date_token(winter, "America/New_York").endswith("|2026-11-23 04:05 EST>")
    assert slack_date_token(winter).endswith("|2026-11-23 09:05 UTC>")
    # A date-only format falls back to the local date (here already the next day in Tokyo).
    late = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    assert slack_date_token(late, "Asia/Tokyo", "{date_short}") == (
        f"<!date^{int(late.timestamp())}^{{date_short}}|2026-11-24>"
    )
    # A naive time is read as UTC, never as the machine's local time.
    assert slack_date_token(winter.replace(tzinfo=None)) == slack_date_token(winter)


# --- reading times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("in:2h", NOW + timedelta(hours=2)),
        ("in 30m", NOW + timedelta(minutes=30)),
        ("tomorrow 10:00", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        ('"tomorrow 10:00"', datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        ("tomorrow at 7:15", datetime(2026, 11, 24, 6, 15, tzinfo=UTC)),
        ("tomorrow", datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
        ("today 16:30", datetime(2026, 11, 23, 15, 30, tzinfo=UTC)),
        ("16:00", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
        ("9:00", datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),  # already past today: tomorrow
        ("friday 9:30", datetime(2026, 11, 27, 8, 30, tzinfo=UTC)),
        ("monday 9:00", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),  # today's 09:00 has passed
        ("monday 18:00", datetime(2026, 11, 23, 17, 0, tzinfo=UTC)),
        ("2026-12-01 10:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2026-12-01T10:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2026-12-01T10:00+00:00", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
    ],
)
def test_people_write_times_in_the_workspace_timezone(typed: str, expected: datetime) -> None:
    assert parse_when(typed, now=NOW, tz="Europe/Paris") == expected


def test_tomorrow_across_a_dst_change_keeps_the_wall_clock_time() -> None:
    # Paris springs forward on Sunday 2026-03-29: Saturday is UTC+1, Sunday UTC+2.
    saturday = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)
    assert parse_when("tomorrow 10:00", now=saturday, tz="Europe/Paris") == datetime(
        2026, 3, 29, 8, 0, tzinfo=UTC
    )
    # New York falls back on Sunday 2026-11-01: Saturday is UTC-4, Sunday UTC-5.
    ny_saturday = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert parse_when("tomorrow 10:00", now=ny_saturday, tz="America/New_York") == datetime(
        2026, 11, 1, 15, 0, tzinfo=UTC
    )
    # "in 24h" is a duration, not a wall-clock time: it is 09:00 local on the Sunday.
    assert parse_when("in 24h", now=saturday, tz="Europe/Paris") == saturday + timedelta(days=1)


def test_a_time_inside_a_dst_gap_lands_just_after_it_and_an_ambiguous_one_first() -> None:
    saturday = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)
    # 02:30 does not exist in Paris that night: read with the winter offset, 03:30 CEST.
    assert parse_when("tomorrow 02:30", now=saturday, tz="Europe/Paris") == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    # 01:30 happens twice in New York on 2026-11-01: the first one (EDT).
    assert parse_when(
        "2026-11-01 01:30", now=datetime(2026, 10, 31, tzinfo=UTC), tz="America/New_York"
    ) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("soon", "is not a time"),
        ("tomorrow 25:00", "is not a time"),
        ("monkey 10:00", "is not a time"),
        ("2026-01-01 10:00", "already passed"),
        ("today 08:00", "already passed"),
    ],
)
def test_unreadable_or_past_times_are_refused(typed: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as caught:
        parse_when(typed, now=NOW, tz="Europe/Paris", field="at")
    assert caught.value.field == "at"


def test_the_quick_form_reads_at_with_a_day_word_quoted_or_bare() -> None:
    def quick(text: str) -> Any:
        return parse_quick_send(text, now=NOW, timezone="Europe/Paris")

    tomorrow_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    for text in (
        "Jane Doe +33 6 10 20 30 40 at:tomorrow 10:00",
        'Jane Doe +33 6 10 20 30 40 at:"tomorrow 10:00" ref:A-1',
        "Jane Doe jane@example.com tomorrow 10:00",
        "Jane Doe jane@example.com ref:A-1 tomorrow 10:00 via:email",
    ):
        data = quick(text)
        assert (data.name, data.when, data.at) == ("Jane Doe", "at", tomorrow_10), text
    assert quick("Jane j@x.io at:monday").at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    # Before the contact, a day word is part of the name.
    assert quick("Tomorrow Smith j@x.io").name == "Tomorrow Smith"
    with pytest.raises(InvalidInput, match="given twice"):
        quick("Jane j@x.io tomorrow at:10:00")


# --- through Slack -------------------------------------------------------------------------


def send_values(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = {
        "name": typed("Jane Doe"),
        "phone": typed("06 10 20 30 40"),
        "method": {"type": "static_select", "selected_option": {"value": "sms"}},
        "when": {"type": "radio_buttons", "selected_option": {"value": "at"}},
        "at": {"type": "datetimepicker", "selected_date_time": None},
        "language": {"type": "static_select", "selected_option": {"value": "fr"}},
    }
    return {**values, **overrides}


def test_the_send_modal_takes_a_typed_time_in_the_workspace_timezone(slack: SlackHarness) -> None:
    slack.post_command("send")
    view = slack.opened_view()
    field = next(b for b in view["blocks"] if b.get("block_id") == "at_text")
    assert "Europe/Paris" in field["hint"]["text"]
    answer = slack.post_view_submission(view, send_values(at_text=typed("next week"))).json()
    assert answer["errors"] == {"at_text": answer["errors"]["at_text"]}
    assert "is not a time" in answer["errors"]["at_text"]
    both = send_values(
        at_text=typed("tomorrow 10:00"),
        at={"type": "datetimepicker", "selected_date_time": int(NOW.timestamp()) + 7200},
    )
    assert "not both" in slack.post_view_submission(view, both).json()["errors"]["at_text"]
    now_and_typed = send_values(
        at_text=typed("tomorrow 10:00"),
        when={"type": "radio_buttons", "selected_option": {"value": "now"}},
    )
    refused = slack.post_view_submission(view, now_and_typed).json()["errors"]
    assert "You chose to send now" in refused["at_text"]
    assert slack.ops.count_queued(slack.ws) == 0

    assert slack.post_view_submission(view, send_values(at_text=typed("tomorrow 10:00"))).text == ""
    request = slack.ops.show(slack.ws, 1).request
    assert request.scheduled_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    # Shown back as a Slack date token, its fallback in the workspace timezone.
    stamp = int(request.scheduled_at.timestamp())
    assert f"<!date^{stamp}^{{date_short_pretty}} {{time}}|2026-11-24 10:00 CET>" in text_of(
        slack.answer()
    )


def test_the_reschedule_modal_takes_a_typed_time(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040", delay=timedelta(hours=1))
    slack.post_action(slack.action_payload("list_row", selected="reschedule:1"))
    view = slack.opened_view()
    response_url = slack.last_response_url
    refused = slack.post_view_submission(view, {"at_text": typed("yesterday")}).json()
    assert "is not a time" in refused["errors"]["at_text"]
    assert slack.post_view_submission(view, {"at_text": typed("friday 15:00")}).text == ""
    assert slack.ops.show(slack.ws, 1).request.scheduled_at == datetime(
        2026, 11, 27, 14, 0, tzinfo=UTC
    )
    assert "|2026-11-27 15:00 CET>" in text_of(slack.answer(response_url))


def test_lists_details_and_thread_replies_fall_back_to_the_workspace_timezone(
    slack: SlackHarness,
) -> None:
    slack.create("Jane Doe", phone="+33610203040", delay=timedelta(hours=2))
    due = int(datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp())
    slack.post_command("list")
    row = text_of(slack.answer())
    assert f"goes out <!date^{due}^{{date_short_pretty}} {{time}}|2026-11-23 13:00 CET>" in row
    slack.post_command("show #1")
    detail = text_of(slack.answer())
    assert "|2026-11-23 11:00 CET>" in detail  # created
    assert "|2026-11-23 13:00 CET>" in detail  # goes out
    assert "UTC>" not in detail
    slack.set_policy(notify_channel="C0NOTIFY")
    slack.ops.reschedule(slack.ws, 1, datetime(2026, 11, 24, 9, 0, tzinfo=UTC), _admin())
    outbox = slack.app.outbox
    for _ in range(4):  # the outbox paces a channel at about one message a second
        outbox.run_once()
        slack.clock.advance(timedelta(seconds=2))
    posted = [text_of(m) for m in slack.fake.all_posted()]
    assert any("Rescheduled by" in t and "|2026-11-24 10:00 CET>" in t for t in posted)
    assert not any("UTC>" in t for t in posted)


def _admin() -> Any:
    from bot.usecases.actors import Actor

    return Actor("U0ADMIN", "boss")


def test_the_home_tab_falls_back_to_the_workspace_timezone(slack: SlackHarness) -> None:
    from handlers.blocks.home import home_view, queued_modal
    from handlers.home import read_home

    slack.create("Jane Doe", phone="+33610203040", delay=timedelta(hours=2))
    surface = slack.app.slack.services
    data = read_home(surface, slack.ws)
    assert data.timezone == "Europe/Paris"
    home = text_of(home_view(data).to_dict())
    assert "due <!date^" in home and "|2026-11-23 13:00 CET>" in home
    assert "UTC>" not in home
    queued = text_of(queued_modal(data.recent, 1, tz=data.timezone).to_dict())
    assert "|2026-11-23 13:00 CET>" in queued


def test_the_cli_reads_and_prints_times_in_the_workspace_timezone(run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert run("settings", "set", "timezone=Europe/Paris").exit_code == 0
    sent = run("send", "Jane", "--phone", "0610203040", "--at", "2030-06-03 10:00", "--queue-only")
    assert sent.exit_code == 0, sent.output
    shown = run("show", "1")
    assert "Scheduled  2030-06-03 10:00 CEST" in shown.output
    winter = run("send", "Bob", "--email", "bob@example.com", "--at", "2030-12-02 10:00")
    assert winter.exit_code == 0, winter.output
    assert "Scheduled  2030-12-02 10:00 CET" in run("show", "2").output


def test_the_customer_view_falls_back_to_the_workspace_timezone(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040", delay=timedelta(hours=2))
    slack.post_command("show customer +33610203040")
    view = text_of(slack.answer())
    assert "Jane Doe" in view
    assert "|2026-11-23 11:00 CET>" in view  # customer since, request created
    assert "|2026-11-23 13:00 CET>" in view  # the message is due
    assert "UTC>" not in view
