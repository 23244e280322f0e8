"""Delays and times as people type them: 2h, 1d, tomorrow 10:00, 2026-12-01T10:00."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.errors import InvalidInput

_DELAY = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>m|min|h|d|w)?\s*$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DAY_WORD = re.compile(r"^(?P<day>today|tomorrow)(?:\s+(?P<t>\d{1,2}:\d{2}))?$")


def parse_delay(text: str, *, field: str = "delay") -> timedelta:
    """Read "0", "30m", "2h", "1d", "7d" or "2w" (a bare number is hours, 0 is immediately).

    :raise InvalidInput: anything else, or more than a year.
    """
    match = _DELAY.match((text or "").lower())
    if not match:
        raise InvalidInput(
            f"'{text}' is not a delay: write it like 30m, 2h, 1d or 7d.", field=field
        )
    amount = int(match["n"])
    unit = _UNITS[match["unit"] or "h"]
    delay = timedelta(**{unit: amount})
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


def parse_when(text: str, *, now: datetime, tz: str, field: str = "when") -> datetime:
    """Read a relative delay, "tomorrow 10:00" or a date and time in the workspace timezone.

    :raise InvalidInput: unreadable, or already passed.
    """
    cleaned = " ".join((text or "").strip().lower().split())
    if cleaned.startswith("in:"):
        cleaned = cleaned[3:]
    elif cleaned.startswith("in "):
        cleaned = cleaned[3:]
    zone = ZoneInfo(tz)
    if _DELAY.match(cleaned) and cleaned != "0":
        return now + parse_delay(cleaned, field=field)
    local_now = now.astimezone(zone)
    day_match = _DAY_WORD.match(cleaned)
    if day_match:
        day = local_now.date() + timedelta(days=1 if day_match["day"] == "tomorrow" else 0)
        at = time.fromisoformat(day_match["t"].zfill(5)) if day_match["t"] else time(9, 0)
        result = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
    else:
        try:
            parsed = datetime.fromisoformat(cleaned.replace(" ", "T").upper())
        except ValueError as exc:
            raise InvalidInput(
                f"'{text}' is not a time: write 2h, tomorrow 10:00 or 2026-12-01T10:00.",
                field=field,
            ) from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        result = parsed.astimezone(UTC)
    if result < now - timedelta(minutes=1):
        raise InvalidInput("That time has already passed.", field=field)
    return result
