"""Delays and times as people type them: 2h, 1d, tomorrow 10:00, 2026-12-01T10:00."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.bounds import within
from bot.domain.errors import InvalidInput

# Read stripped: one run of spaces only, so no two `\s*` can share the same blanks (which
# made a long run of them quadratic). Seven digits keep a timedelta in range (then refused).
_DELAY = re.compile(r"^(?P<n>\d{1,7})\s*(?P<unit>m|min|h|d|w)?$")
MAX_TIME_TEXT = 100  # "2026-12-01T10:00:00+01:00", quoted, with words around: far less
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_delay(text: str, *, field: str = "delay") -> timedelta:
    """Read "0", "30m", "2h", "1d", "7d" or "2w" (a bare number is hours, 0 is immediately).

    :raise InvalidInput: anything else, or more than a year.
    """
    typed = within(text, MAX_TIME_TEXT, what="That delay", field=field)
    match = _DELAY.match(typed.strip().lower())
    if not match:
        raise InvalidInput(
            f"'{text}' is not a delay: write it like 30m, 2h, 1d or 7d.", field=field
        )
    amount = int(match["n"])
    unit = _UNITS[match["unit"] or "h"]
    try:
        delay = timedelta(**{unit: amount})
    except OverflowError:  # "99999999999999999999h": far beyond any limit
        delay = timedelta.max
    if delay > timedelta(days=365):
        raise InvalidInput("A delay can be at most a year.", field=field)
    return delay


def format_delay(delay: timedelta) -> str:
    """Write a delay back as `parse_delay` reads it."""
    seconds = int(delay.total_seconds())
    if seconds == 0:
        return "0"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# "tomorrow 10:00", "monday at 9:30", "fri", "16:00" (the next 16:00).
_DAY_WORD = re.compile(
    r"^(?P<day>today|tomorrow|mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?"
    r"|fri(?:day)?|sat(?:urday)?|sun(?:day)?)?"
    r"(?:\s*(?:at\s+)?(?P<t>\d{1,2}[:h]\d{2}|\d{1,2}h))?$"
)
DEFAULT_HOUR = time(9, 0)
WHEN_EXAMPLES = "2h, tomorrow 10:00, monday 9:30, 16:00 or 2026-12-01 10:00"


def _clock(text: str) -> time:
    hours, _, minutes = text.replace("h", ":").partition(":")
    return time(int(hours), int(minutes or 0))


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    # A wall-clock time skipped by a DST jump (02:30 on a spring-forward night) reads with
    # the offset before the jump, so it lands just after the gap; an ambiguous one (autumn)
    # is its first occurrence.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def parse_when(text: str, *, now: datetime, tz: str, field: str = "when") -> datetime:
    """Read a relative delay, a day word with a time, or a date and time in the workspace timezone.

    Accepted: "in 2h" / "2h"; "today 16:00", "tomorrow 10:00", "tomorrow" (09:00),
    "monday 9:30" (the next Monday); "16:00" (its next occurrence); "2026-12-01 10:00" or
    "2026-12-01T10:00" (an explicit offset is respected). Quotes around the text are ignored.

    :raise InvalidInput: unreadable, or already passed.
    """
    typed = within(text, MAX_TIME_TEXT, what="That time", field=field)
    cleaned = " ".join(typed.strip().strip("\"'“”‘’").strip().lower().split())
    for prefix in ("in:", "in ", "at:", "at "):
        if cleaned.startswith(prefix):
            cleaned = cleaned[len(prefix) :].strip()
            break
    zone = ZoneInfo(tz)
    if _DELAY.match(cleaned) and cleaned != "0":
        return now + parse_delay(cleaned, field=field)
    local_now = now.astimezone(zone)
    day_match = _DAY_WORD.match(cleaned) if cleaned else None
    problem = f"'{text}' is not a time: write {WHEN_EXAMPLES}."
    if day_match and (day_match["day"] or day_match["t"]):
        try:
            at = _clock(day_match["t"]) if day_match["t"] else DEFAULT_HOUR
        except ValueError as exc:
            raise InvalidInput(problem, field=field) from exc
        word = day_match["day"]
        today = local_now.date()
        if word == "today":
            result = _local(today, at, zone)
        elif word == "tomorrow":
            result = _local(today + timedelta(days=1), at, zone)
        elif word is None:  # a bare time: its next occurrence
            result = _local(today, at, zone)
            if result <= now:
                result = _local(today + timedelta(days=1), at, zone)
        else:  # a weekday: the next one (today too, if that time is still ahead)
            ahead = ([w[:3] for w in WEEKDAYS].index(word[:3]) - today.weekday()) % 7
            result = _local(today + timedelta(days=ahead), at, zone)
            if result <= now:
                result = _local(today + timedelta(days=ahead or 7), at, zone)
    else:
        try:
            parsed = datetime.fromisoformat(cleaned.replace(" ", "T").upper())
        except ValueError as exc:
            raise InvalidInput(problem, field=field) from exc
        if parsed.tzinfo is None:
            result = _local(parsed.date(), parsed.time(), zone)
        else:
            result = parsed.astimezone(UTC)
    if result < now - timedelta(minutes=1):
        raise InvalidInput("That time has already passed.", field=field)
    return result


def slack_date_token(
    when: datetime, tz: str = "UTC", fmt: str = "{date_short_pretty} {time}"
) -> str:
    """Write a time as Slack's date token, which every reader sees in their own timezone.

    The fallback (notifications, old clients, anything that can't format) is the time in the
    workspace timezone `tz`, with the zone's abbreviation: "2026-11-23 11:00 CET".
    """
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    fallback = format_local(aware, tz, with_time="{time" in fmt)
    return f"<!date^{int(aware.timestamp())}^{fmt}|{fallback}>"


def format_local(when: datetime, tz: str = "UTC", *, with_time: bool = True) -> str:
    """Write a time in a timezone with the zone's abbreviation: "2026-11-23 11:00 CET"."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(tz))
    if not with_time:
        return f"{local:%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or tz}"


def format_day_time(when: datetime, tz: str, *, now: datetime) -> str:
    """Write a time as people say it, naming the zone: "Thu 3 Dec 09:00 (Europe/Paris)".

    The year is written only when it is not `now`'s.
    """
    zone = ZoneInfo(tz)
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    local = aware.astimezone(zone)
    year = f" {local.year}" if local.year != now.astimezone(zone).year else ""
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M} ({tz})"
