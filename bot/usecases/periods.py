"""A stats period as people type it (`7d`, `30d`, `from:DAY to:DAY`) and a period's numbers in
words: one reading and one wording for `/reviews stats`, `reviewops stats` and any other reader."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.bounds import MAX_TYPED, within
from bot.domain.errors import InvalidInput
from bot.usecases.history import end_of_day, start_of_day
from store.stats import PeriodStats, Tally

DEFAULT_DAYS = 7
MAX_DAYS = 3660
_DAYS = re.compile(r"^(?P<n>\d{1,4})d$", re.I)
SLACK_USAGE = "Write `/reviews stats`, `/reviews stats 30d` or `/reviews stats from:2026-11-01 to:2026-11-30`."


@dataclass(frozen=True)
class StatsPeriod:
    start: datetime  # UTC
    end: datetime | None  # UTC, exclusive; None: up to now
    label: str


def parse_day(value: str, key: str) -> date:
    """Read a day typed after a key, like from:2026-12-01.

    :raise InvalidInput: not a day.
    """
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"'{value}' is not a date for {key}: (write it like 2026-12-01).", field=key
        ) from exc


def parse_stats_period(
    text: str, *, now: datetime, timezone: str, usage: str = SLACK_USAGE
) -> StatsPeriod:
    """Read `7d`, `30d` (any number of days up to ten years) or `from:DAY [to:DAY]`.

    Days are in the workspace timezone and `to:` includes its whole day; without `to:` the
    period runs until now. `usage` is the surface's own example of the command.

    :raise InvalidInput: anything else, or a `to:` before `from:`.
    """
    words = within(text, MAX_TYPED, what="That period").split()
    if not words:
        return last_days(DEFAULT_DAYS, now=now)
    days = _DAYS.match(words[0])
    if days and len(words) == 1:
        return last_days(int(days["n"]), now=now)
    given: dict[str, date] = {}
    for word in words:
        key, sep, value = word.partition(":")
        key = key.lower()
        if not sep or key not in ("from", "to"):
            raise InvalidInput(f"I don't understand '{word}'. {usage}")
        if key in given:
            raise InvalidInput(f"'{key}:' is given twice. {usage}")
        given[key] = parse_day(value, key)
    if "from" not in given:
        raise InvalidInput(f"Say where the period starts with from:. {usage}")
    return between(given["from"], given.get("to"), now=now, timezone=timezone)


def last_days(n: int, *, now: datetime) -> StatsPeriod:
    """The last `n` days up to now.

    :raise InvalidInput: fewer than one day or more than MAX_DAYS.
    """
    if not 1 <= n <= MAX_DAYS:
        raise InvalidInput(f"Give between 1 and {MAX_DAYS} days, like 7d or 30d.", field="days")
    return StatsPeriod(now - timedelta(days=n), None, f"Last {n} days")


def between(first: date, last: date | None, *, now: datetime, timezone: str) -> StatsPeriod:
    """Whole local days from `first` to `last` (included; None: up to now), at most MAX_DAYS.

    The one reading of a period by days, for Slack, the CLI and the REST API.

    :raise InvalidInput: `last` before `first`, `first` in the future, or a longer period
        (its comparison with the period before would run off the calendar).
    """
    start = start_of_day(first, timezone)
    end = None
    if last is not None:
        end = end_of_day(last, timezone)
        if end <= start:
            raise InvalidInput("to: must not come before from:.", field="to")
    if start > now:
        raise InvalidInput("from: is in the future: nothing has happened yet.", field="from")
    if (end or now) - start > timedelta(days=MAX_DAYS):
        raise InvalidInput(
            f"A period is at most {MAX_DAYS} days (ten years): start from a later day.",
            field="from",
        )
    if end is None:
        return StatsPeriod(start, None, f"Since {first}")
    return StatsPeriod(start, end, f"{first} to {last}")


def tally_words(t: Tally) -> str:
    """One line of numbers: sent, delivered, opened, clicked, failed and click rate."""
    return (
        f"sent {t.sent:,} · delivered {t.delivered:,} · opened {t.opened:,} · "
        f"clicked {t.clicked:,} · failed {t.failed:,} · click rate {t.click_rate:.0%}"
    )


def period_words(stats: PeriodStats, timezone: str) -> str:
    """Say which requests a period holds: "from 2026-11-01 00:00 to 2026-11-30 23:59 (zone)"."""
    zone = ZoneInfo(timezone)
    first = stats.start.astimezone(zone)
    if stats.end is None:
        return f"since {first:%Y-%m-%d %H:%M} ({timezone})"
    # `end` is exclusive: a period ending at midnight ends, for people, the day before.
    last = (stats.end - timedelta(microseconds=1)).astimezone(zone)
    return f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} ({timezone})"
