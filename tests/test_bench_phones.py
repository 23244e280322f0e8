"""The benchmarks' and fault run's recipients are awake at any hour they run.

Quiet hours hold a text until 08:00 in every zone of its number; a number phonenumbers cannot
place (an unallocated block) falls back to the workspace's zone, so a run at 07:46 UTC left
its message queued after the drain. `awake_phones` must give numbers placed where it is day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import timezone as phonenumbers_timezone

from bench.chaos import HANG_FIRST
from bench.speedkit import awake_phones


@pytest.mark.parametrize("first", [0, 1_000_000, 2_000_000, HANG_FIRST, 610203040])
def test_every_number_is_placed_where_it_is_day_at_every_hour(first: int) -> None:
    start = datetime(2026, 12, 3, tzinfo=UTC)
    for quarter in range(0, 24 * 4):
        at = start + timedelta(minutes=15 * quarter)
        for number in awake_phones(first, 3, at):
            parsed = phonenumbers.parse(number)
            zones = phonenumbers_timezone.time_zones_for_number(parsed)
            assert phonenumbers.is_valid_number(parsed), (number, at)
            assert len(zones) == 1 and zones[0] != "Etc/Unknown", (number, zones)
            assert 8 <= at.astimezone(ZoneInfo(zones[0])).hour < 21, (number, at)


def test_the_hanging_recipients_are_not_the_clones() -> None:
    at = datetime(2026, 12, 3, 7, 46, tzinfo=UTC)
    assert not set(awake_phones(HANG_FIRST, 20, at)) & set(awake_phones(0, 2000, at))
