"""The send window: on which days and hours, in the workspace timezone, messages may go out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_lib

from bot.domain.errors import InvalidInput

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(
    r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


@dataclass(frozen=True)
class SendWindow:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    always: bool = False

    def allows(self, local: datetime) -> bool:
        """Say whether a local wall-clock time falls inside the window."""
        if self.always:
            return True
        return local.weekday() in self.days and self.start <= local.time() < self.end


ALWAYS = SendWindow(frozenset(range(7)), time(0), time(0), always=True)


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAY_NAMES or last not in DAY_NAMES:
                raise ValueError(part)
            i, j = DAY_NAMES.index(first), DAY_NAMES.index(last)
            days.update(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif part in DAY_NAMES:
            days.add(DAY_NAMES.index(part))
        else:
            raise ValueError(part)
    return frozenset(days)


def _parse_time(text: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    return time(hours, minutes)


@lru_cache(maxsize=256)
def parse_window(text: str) -> SendWindow:
    """Read "mon-fri 09:00-19:00", "mon,wed,fri 08:30-17:00" or "always".

    :raise InvalidInput: anything else, or an end not after the start.
    """
    cleaned = (text or "").strip().lower()
    if cleaned == "always":
        return ALWAYS
    match = _WINDOW.match(cleaned)
    problem = f"'{text}' is not a send window: write it like 'mon-fri 09:00-19:00' or 'always'."
    if not match:
        raise InvalidInput(problem, field="send_window")
    try:
        days = _parse_days(match["days"])
        start, end = _parse_time(match["start"]), _parse_time(match["end"])
    except ValueError as exc:
        raise InvalidInput(problem, field="send_window") from exc
    if end <= start:
        raise InvalidInput("The send window must end after it starts.", field="send_window")
    return SendWindow(days, start, end)


def format_window(window: SendWindow) -> str:
    """Write a window back in the form `parse_window` reads."""
    if window.always:
        return "always"
    days = _days_text(sorted(window.days))
    end = "24:00" if window.end == time.max else f"{window.end:%H:%M}"
    return f"{days} {window.start:%H:%M}-{end}"


def _days_text(days: list[int]) -> str:
    """Write days as people do: runs of three or more as a range ("mon-fri,sun")."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [
        f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}"
        if len(run) >= 3
        else ",".join(DAY_NAMES[d] for d in run)
        for run in runs
    ]
    return ",".join(parts)


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    # Reading the tz database opens ~600 files: once per process, not once per validation.
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _known_holiday_countries() -> frozenset[str]:
    return frozenset(holidays_lib.list_supported_countries())


def validate_timezone(name: str) -> str:
    """Return an IANA timezone name.

    :raise InvalidInput: unknown timezone.
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"'{name}' is not a timezone (like Europe/Paris or America/New_York).", field="timezone"
        ) from exc
    if name not in _known_timezones() and name != "UTC":
        raise InvalidInput(f"'{name}' is not a timezone.", field="timezone")
    return name


def validate_holiday_country(code: str | None) -> str | None:
    """Return a country code the holidays package knows, or None for "none".

    :raise InvalidInput: unknown country.
    """
    if code is None or code.strip().lower() in ("", "none", "off"):
        return None
    upper = code.strip().upper()
    if upper not in _known_holiday_countries():
        raise InvalidInput(f"No public holidays are known for '{code}'.", field="holidays")
    return upper


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays_lib.country_holidays(country, years=year).keys())


def _is_holiday(day: date, country: str | None) -> bool:
    return country is not None and day in _holidays(country, day.year)


def holiday_name(day: date, country: str | None) -> str | None:
    """Name the public holiday a day is in a country ("Christmas Day"), or None."""
    if not _is_holiday(day, country):
        return None
    assert country is not None
    return str(holidays_lib.country_holidays(country, years=day.year).get(day) or "a holiday")


def next_allowed(
    now: datetime, tz: str, window: SendWindow, holidays_country: str | None
) -> datetime:
    """Return `now` if a message may go now, else the next opening of the window (UTC).

    Daylight-saving safe: an opening time that does not exist on a spring-forward day is
    moved to the first real instant after it, which is still inside the window.
    """
    if now.tzinfo is None:
        raise ValueError("next_allowed needs an aware datetime")
    if now.year >= MAXYEAR - 1:  # its next opening could be past the last date Python has
        raise InvalidInput("That time is too far ahead.", field="when")
    if window.always and holidays_country is None:
        return now
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    if window.allows(local) and not _is_holiday(local.date(), holidays_country):
        return now
    day = local.date()
    for offset in range(0, 400):
        candidate_day = day + timedelta(days=offset)
        if not window.always and candidate_day.weekday() not in window.days:
            continue
        if _is_holiday(candidate_day, holidays_country):
            continue
        opening_time = time(0) if window.always else window.start
        opening = _local_instant(candidate_day, opening_time, zone)
        if not window.allows(opening.astimezone(zone)):
            continue  # the whole window falls in a spring-forward gap: no window that day
        if opening > now:
            return opening.astimezone(UTC)
        # Today's opening is behind us: we are after the window (or before it was skipped).
        closing = (
            _local_instant(candidate_day + timedelta(days=1), time(0), zone)
            if window.always or window.end == time.max
            else _local_instant(candidate_day, window.end, zone)
        )
        if now < closing:
            # Between today's opening and closing instants, yet outside the window: the
            # clocks went back and now replays an hour before the opening. The window opens
            # again when the repeated wall clock reaches the start.
            again = datetime.combine(candidate_day, opening_time).replace(tzinfo=zone, fold=1)
            if again > now and window.allows(again):
                return again.astimezone(UTC)
    raise ValueError("the send window never opens")  # pragma: no cover


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Return the first real instant whose local wall time is at or after `day at`.

    A wall time inside a spring-forward gap does not exist; the answer is then the instant
    the clocks jump (e.g. 03:00 in Paris for 02:30 on the last Sunday of March).
    """
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
        return aware
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)  # before the jump
    high = aware.astimezone(UTC)  # after the jump
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0).astimezone(zone)
