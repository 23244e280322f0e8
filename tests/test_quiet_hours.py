"""Recipient quiet hours, the pure rule: texts only inside the recipient's local hours in every
zone of the number, on top of the send window, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import InvalidInput
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_edit import parse_setting_assignments
from bot.domain.quiet_hours import NeverReachable, parse_quiet_hours, recipient_zones
from bot.domain.send_time import earliest_send, quiet_wait
from bot.domain.window import next_allowed, parse_window
from tests.test_window_properties import MOMENTS

# Real numbers and the zones phonenumbers gives them.
CHICAGO = "+13125550100"  # America/Chicago
NEW_YORK = "+12125550100"  # America/New_York
PARIS = "+33612345678"  # Europe/Paris
ALASKA = "+19075550100"  # America/Adak and America/Anchorage
NEWFOUNDLAND = "+17095550100"  # America/Halifax and America/St_Johns
AUSTRALIA = "+61412345678"  # a mobile: every Australian zone, Perth to Lord Howe
NUMBERS = [CHICAGO, NEW_YORK, PARIS, ALASKA, NEWFOUNDLAND, AUSTRALIA]
HOURS = ["08:00-21:00", "09:00-20:00", "08:30-12:15"]
WINDOWS = ["always", "mon-fri 09:00-19:00", "sat,sun 01:30-03:30", "mon-sun 06:00-23:00"]
ZONES = ["Europe/Paris", "America/New_York", "America/Chicago"]


def test_numbers_with_several_zones_are_known_as_such() -> None:
    assert recipient_zones(CHICAGO, "UTC") == ("America/Chicago",)
    assert recipient_zones(ALASKA, "UTC") == ("America/Adak", "America/Anchorage")
    assert recipient_zones(NEWFOUNDLAND, "UTC") == ("America/Halifax", "America/St_Johns")
    assert len(recipient_zones(AUSTRALIA, "UTC")) > 3


def test_a_number_without_zone_data_is_taken_to_be_in_the_workspace_timezone() -> None:
    assert recipient_zones("+15555550100", "Europe/Paris") == ("Europe/Paris",)  # "Etc/Unknown"


@settings(max_examples=500, deadline=None)
@given(
    MOMENTS,
    st.sampled_from(ZONES),
    st.sampled_from(WINDOWS),
    st.sampled_from(HOURS),
    st.sampled_from(NUMBERS),
    st.sampled_from(["sms", "whatsapp"]),
)
def test_a_text_goes_at_the_first_instant_inside_the_window_and_every_zone_s_hours(
    now: datetime, tz: str, window_text: str, hours_text: str, phone: str, channel: str
) -> None:
    policy = WorkspacePolicy(
        timezone=tz, send_window=window_text, quiet_hours=hours_text, holidays=None
    )
    try:
        result = earliest_send(now, policy, channel, phone)
    except NeverReachable:
        return  # e.g. a weekend night window and a Paris number: refused with its reason
    window, hours = parse_window(window_text), parse_quiet_hours(hours_text)
    zones = recipient_zones(phone, tz)
    assert result >= now
    assert window.allows(result.astimezone(ZoneInfo(tz)))
    for zone in zones:
        assert hours.allows(result.astimezone(ZoneInfo(zone))), (zone, result)
    # Stable: asked again at that time, it says "now" (the dispatcher sends it then).
    assert earliest_send(result, policy, channel, phone) == result
    # The earliest: a minute before it, something refused (the window or a zone's hours).
    before = result - timedelta(minutes=1)
    if before >= now:
        in_window = window.allows(before.astimezone(ZoneInfo(tz)))
        everywhere = all(hours.allows(before.astimezone(ZoneInfo(z))) for z in zones)
        assert not (in_window and everywhere)


@settings(max_examples=200, deadline=None)
@given(MOMENTS, st.sampled_from(ZONES), st.sampled_from(WINDOWS), st.sampled_from(NUMBERS))
def test_an_email_waits_for_the_window_only(
    now: datetime, tz: str, window_text: str, phone: str
) -> None:
    policy = WorkspacePolicy(timezone=tz, send_window=window_text, quiet_hours="09:00-10:00")
    window = parse_window(window_text)
    assert earliest_send(now, policy, "email", phone) == next_allowed(now, tz, window, None)


@pytest.mark.parametrize(
    ("now", "phone", "expected"),
    [
        # New York springs forward on 2026-03-08: 08:00 EDT is 12:00 UTC that day.
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), NEW_YORK, datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # ... and falls back on 2026-11-01: 08:00 EST is 13:00 UTC.
        (
            datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
            NEW_YORK,
            datetime(2026, 11, 1, 13, 0, tzinfo=UTC),
        ),
        # Paris springs forward on 2026-03-29: 08:00 CEST is 06:00 UTC.
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), PARIS, datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        # Paris falls back on 2026-10-25: 08:00 CET is 07:00 UTC.
        (
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            PARIS,
            datetime(2026, 10, 25, 7, 0, tzinfo=UTC),
        ),
        # 22:10 in Chicago: 08:00 the next morning there.
        (
            datetime(2026, 11, 24, 4, 10, tzinfo=UTC),
            CHICAGO,
            datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
        ),
        # Alaska's number may be in Adak (an hour behind Anchorage): 08:00 in Adak.
        (
            datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
            ALASKA,
            datetime(2026, 11, 24, 18, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_law_s_morning_across_daylight_saving_changes(
    now: datetime, phone: str, expected: datetime
) -> None:
    policy = WorkspacePolicy(timezone="UTC", send_window="always")
    assert earliest_send(now, policy, "sms", phone) == expected


def test_a_window_that_never_meets_the_recipient_s_hours_is_refused() -> None:
    # 09:00-12:00 in Paris is 00:00-03:00 in Los Angeles.
    policy = WorkspacePolicy(timezone="Europe/Paris", send_window="mon-fri 09:00-12:00")
    with pytest.raises(NeverReachable) as refused:
        earliest_send(datetime(2026, 11, 23, 10, tzinfo=UTC), policy, "sms", "+14155550100")
    assert refused.value.field == "phone"
    assert "never meets the recipient's local hours" in refused.value.message


def test_show_s_reason_names_the_recipient_s_local_time_and_zone() -> None:
    policy = WorkspacePolicy(timezone="America/Chicago", send_window="always")
    now = datetime(2026, 11, 24, 4, 10, tzinfo=UTC)  # 22:10 in Chicago
    due = earliest_send(now, policy, "sms", CHICAGO)
    held = quiet_wait(1, "sms", CHICAGO, due, now, policy)
    assert held is not None
    assert held.sentence() == (
        "waits for the recipient's hours (08:00-21:00): "
        "recipient's local time 22:10 in America/Chicago"
    )
    # An email, or a text delayed past the hours, does not wait for them.
    assert quiet_wait(1, "email", CHICAGO, due, now, policy) is None
    assert quiet_wait(1, "sms", CHICAGO, due + timedelta(days=2), now, policy) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("07:00-21:00", "quiet_hours can only be stricter than 08:00-21:00"),
        ("08:00-21:30", "quiet_hours can only be stricter than 08:00-21:00"),
        ("00:00-24:00", "not a time of day"),
        ("always", "is not quiet hours"),
        ("12:00-09:00", "must end after they start"),
    ],
)
def test_settings_refuse_hours_looser_than_the_law_or_unreadable(value: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_setting_assignments(WorkspacePolicy(), [f"quiet_hours={value}"])
    assert reason in refused.value.message
    assert refused.value.field == "quiet_hours"


def test_settings_accept_stricter_hours_and_default_to_the_law_s() -> None:
    assert WorkspacePolicy().quiet_hours == "08:00-21:00"
    stricter = parse_setting_assignments(WorkspacePolicy(), ["quiet_hours=9:30-20:00"])
    assert stricter.quiet_hours == "09:30-20:00"
