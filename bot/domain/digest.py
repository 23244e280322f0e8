"""The digest's calendar: when a daily or weekly digest is due, which period it covers, and the
days of its chart's series, all in the workspace's timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.domain.errors import InvalidInput

Frequency = Literal["off", "daily", "weekly"]
FREQUENCIES: tuple[str, ...] = ("off", "daily", "weekly")
DEFAULT_DIGEST_TIME = "09:00"
_TIME = re.compile(r"^(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)$")
MAX_BUCKETS = 62  # points of the chart's series; a longer period groups days
MIN_SERIES_DAYS = 7  # a daily digest's chart still shows the week that led to it


@dataclass(frozen=True)
class DigestPeriod:
    """The period a digest covers ([start, end), UTC) and the one before it, of the same length."""

    key: str  # "daily:2026-11-22", "weekly:2026-11-16": what was posted, once
    start: datetime
    end: datetime
    previous_start: datetime
    first_day: date
    last_day: date

    @property
    def label(self) -> str:
        if self.first_day == self.last_day:
            return f"{self.first_day:%A %d %B %Y}"
        return f"{self.first_day:%d %b} to {self.last_day:%d %b %Y}"


@dataclass(frozen=True)
class Bucket:
    """One point of a series: the local day it starts on and its UTC bounds."""

    day: date
    start: datetime
    end: datetime


# How late a digest may still go out after its time (then it is skipped, not sent stale).
CATCH_UP = {"daily": timedelta(hours=6), "weekly": timedelta(hours=24)}


def parse_digest_time(value: str) -> str:
    """Read a local time of day like 09:00 or 7:30; return it as HH:MM.

    :raise InvalidInput: anything else.
    """
    found = _TIME.match(value.strip())
    if not found:
        raise InvalidInput(
            f"'{value[:20]}' is not a time of day: write it like 09:00 or 17:30.",
            field="digest_time",
        )
    return f"{int(found['h']):02d}:{found['m']}"


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def due_period(now: datetime, *, frequency: str, at: str, timezone: str) -> DigestPeriod | None:
    """Return the period whose digest is due at `now` (None when none is due, or digests are off).

    A daily digest, due each day at `at`, covers the day before; a weekly one, due on Mondays
    at `at`, covers the week (Monday to Sunday) before. A digest still goes out within
    `CATCH_UP` of its time (the service was down, a deploy), not later: turned on at 07:00 for
    09:00, it does not post yesterday's at once and today's two hours later. Posting it once
    is the caller's part.
    """
    if frequency not in ("daily", "weekly"):
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    hour, minute = (int(part) for part in parse_digest_time(at).split(":"))
    due_day = local.date()
    if (local.hour, local.minute) < (hour, minute):
        due_day -= timedelta(days=1)
    length = 1
    if frequency == "weekly":
        due_day -= timedelta(days=due_day.weekday())  # the Monday of that week
        length = 7
    due_at = datetime.combine(due_day, time(hour, minute), tzinfo=zone)
    if now - due_at > CATCH_UP[frequency]:
        return None
    first = due_day - timedelta(days=length)
    before = first - timedelta(days=length)
    return DigestPeriod(
        key=f"{frequency}:{first.isoformat()}",
        start=_local_midnight(first, zone),
        end=_local_midnight(due_day, zone),
        previous_start=_local_midnight(before, zone),
        first_day=first,
        last_day=due_day - timedelta(days=1),
    )


def series_buckets(
    start: datetime, end: datetime, *, timezone: str, max_buckets: int = MAX_BUCKETS
) -> list[Bucket]:
    """Cut [start, end) into local days (or runs of days, so at most `max_buckets` points).

    The first bucket starts at `start` itself (a period like "the last 30 days" starts mid-day).
    """
    zone = ZoneInfo(timezone)
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    days = (last - first).days + 1
    step = max(1, -(-days // max_buckets))  # ceiling division
    buckets: list[Bucket] = []
    day = first
    while day <= last:
        following = day + timedelta(days=step)
        low = max(start, _local_midnight(day, zone))
        high = min(end, _local_midnight(following, zone))
        buckets.append(Bucket(day, low, high))
        day = following
    return buckets


def series_start(period: DigestPeriod, timezone: str) -> datetime:
    """Where a digest's series starts: the period's start, or a week before its end if sooner."""
    zone = ZoneInfo(timezone)
    week = _local_midnight(period.last_day - timedelta(days=MIN_SERIES_DAYS - 1), zone)
    return min(period.start, week)
