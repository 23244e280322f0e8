"""Why a message goes later than asked (bot/domain/send_time.py::why_later), and windows
written back with day ranges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.policy import WorkspacePolicy
from bot.domain.send_time import earliest_send, why_later, why_request_later
from bot.domain.window import format_window, parse_window

POLICY = WorkspacePolicy(timezone="Europe/Paris", send_window="mon-fri 09:00-19:00", holidays="FR")
PHONE_NY = "+12125550123"


def test_a_friday_evening_before_a_monday_holiday_names_both() -> None:
    # Fri 2031-04-11 20:00 Paris; Easter Monday is 2031-04-14: it goes on Tuesday.
    asked = datetime(2031, 4, 11, 18, 0, tzinfo=UTC)
    assert why_later(asked, POLICY, "email", None) == [
        "outside the send window mon-fri 09:00-19:00",
        "Easter Monday is a public holiday (FR)",
    ]
    assert earliest_send(asked, POLICY, "email", None) == datetime(2031, 4, 15, 7, 0, tzinfo=UTC)


def test_inside_the_window_nothing_is_said() -> None:
    asked = datetime(2030, 12, 4, 10, 0, tzinfo=UTC)  # Wednesday 11:00 in Paris
    assert why_later(asked, POLICY, "sms", "+33610203040") == []


def test_several_channels_say_only_what_holds_the_first_to_go() -> None:
    asked = datetime(2030, 12, 4, 9, 0, tzinfo=UTC)  # 10:00 Paris, 04:00 New York
    assert why_request_later(asked, POLICY, "sms+email", PHONE_NY) == []
    (said,) = why_request_later(asked, POLICY, "sms", PHONE_NY)
    assert (
        said
        == "the recipient's hours are 08:00-21:00: their local time would be 04:00 in America/New_York"
    )


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("mon-fri 09:00-19:00", "mon-fri 09:00-19:00"),
        ("mon,tue,wed,thu,fri,sat 08:30-24:00", "mon-sat 08:30-24:00"),
        ("mon,wed,fri 08:00-10:00", "mon,wed,fri 08:00-10:00"),
        ("sat-tue 10:00-12:00", "mon,tue,sat,sun 10:00-12:00"),
        ("mon,tue,thu-sun 10:00-12:00", "mon,tue,thu-sun 10:00-12:00"),
    ],
)
def test_windows_are_written_with_day_ranges_and_read_back_the_same(
    typed: str, written: str
) -> None:
    assert format_window(parse_window(typed)) == written
    assert parse_window(written) == parse_window(typed)
