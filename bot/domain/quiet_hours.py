"""Recipient quiet hours: texts (SMS, WhatsApp) reach a phone only between the recipient's
local hours, read from the number itself, in every zone the number may be in.

In the US, a text before 08:00 or after 21:00 in the recipient's local time breaks the TCPA;
08:00-21:00 is the law's default and the loosest hours a workspace may set (`quiet_hours`).
Emails are not subject to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from phonenumbers import timezone as number_zones

from bot.domain.contacts import parse_e164
from bot.domain.errors import InvalidInput
from bot.domain.window import SendWindow, next_allowed

DEFAULT_QUIET_HOURS = "08:00-21:00"
LAW_START, LAW_END = time(8), time(21)
UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers says when a number's zone is not known
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
EVERY_DAY = frozenset(range(7))
HORIZON = timedelta(days=370)  # a whole year: every zone's two DST changes
MAX_ROUNDS = 20_000  # each round moves to a later opening: a year has far fewer
Rule = Callable[[datetime], datetime]


@dataclass(frozen=True)
class QuietHours:
    """The local hours a text may arrive in, every day: [start, end)."""

    start: time
    end: time

    def as_window(self) -> SendWindow:
        # The same daily rule as the send window (DST-safe, tested there), on every day.
        return SendWindow(EVERY_DAY, self.start, self.end)

    def allows(self, local: datetime) -> bool:
        return self.start <= local.time() < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@lru_cache(maxsize=64)
def parse_quiet_hours(text: str) -> QuietHours:
    """Read "HH:MM-HH:MM", within the law's 08:00-21:00.

    :raise InvalidInput: not that form, an end not after its start, or looser than the law.
    """
    match = _HOURS.match(text or "")
    if not match:
        raise InvalidInput(
            f"'{text}' is not quiet hours: write them like '{DEFAULT_QUIET_HOURS}' "
            "(the recipient's local hours texts may arrive in).",
            field="quiet_hours",
        )
    hours = [int(match.group(i)) for i in range(1, 5)]
    try:
        start, end = time(hours[0], hours[1]), time(hours[2], hours[3])
    except ValueError as exc:
        raise InvalidInput(f"'{text}' is not a time of day.", field="quiet_hours") from exc
    if end <= start:
        raise InvalidInput("quiet_hours must end after they start.", field="quiet_hours")
    if start < LAW_START or end > LAW_END:
        raise InvalidInput(
            f"quiet_hours can only be stricter than {DEFAULT_QUIET_HOURS} "
            "(texts outside those local hours break the TCPA).",
            field="quiet_hours",
        )
    return QuietHours(start, end)


@lru_cache(maxsize=4096)
def recipient_zones(phone: str, fallback: str) -> tuple[str, ...]:
    """The time zones a phone number (E.164) may be in, from phonenumbers' data.

    A number phonenumbers can't place (no zone data: "Etc/Unknown") is taken to be in the
    workspace's timezone (`fallback`): the zone the business sends from is the best guess left.
    """
    parsed = parse_e164(phone)
    if parsed is None:
        return (fallback,)
    zones = [z for z in number_zones.time_zones_for_number(parsed) if z != UNKNOWN_ZONE]
    known = tuple(z for z in zones if _is_zone(z))
    return known or (fallback,)


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def next_reachable(now: datetime, zones: tuple[str, ...], hours: QuietHours) -> datetime:
    """The earliest instant at or after `now` inside `hours` in every zone (UTC-aware).

    :raise NeverReachable: the zones' hours never overlap within a year.
    """
    return earliest_common(now, [zone_rule(zone, hours) for zone in zones])


def zone_rule(zone: str, hours: QuietHours) -> Rule:
    """The earliest instant at or after a time inside `hours` in one zone."""
    window = hours.as_window()
    return lambda at: next_allowed(at, zone, window, None)


def earliest_common(now: datetime, rules: list[Rule]) -> datetime:
    """The earliest instant at or after `now` that every rule accepts as it is.

    Each rule answers the earliest instant at or after its question that it accepts; asking
    each again from the latest answer until all agree never skips an instant good for all
    (no rule passes an instant it would accept), so the first agreement is the earliest.

    :raise NeverReachable: no agreement within a year (e.g. a Paris window of 09:00-12:00 and
        a Los Angeles number: 00:00-03:00 there).
    """
    at = now
    for _ in range(MAX_ROUNDS):
        moved = at
        for rule in rules:
            moved = rule(moved)
        if moved == at:
            return at
        if moved - now > HORIZON:
            break
        at = moved
    raise NeverReachable()


def outside_zone(at: datetime, zones: tuple[str, ...], hours: QuietHours) -> tuple[str, str] | None:
    """The first zone whose local time at `at` is outside `hours`, with that time ("22:10")."""
    for zone in zones:
        local = at.astimezone(ZoneInfo(zone))
        if not hours.allows(local):
            return zone, f"{local:%H:%M}"
    return None


class NeverReachable(InvalidInput):
    """No instant within a year meets every rule (the window and the recipient's hours)."""

    def __init__(self) -> None:
        super().__init__(
            "The send window never meets the recipient's local hours "
            f"(texts arrive only {DEFAULT_QUIET_HOURS} or stricter there), so it could never "
            "be sent: widen the send window or send by email.",
            field="phone",
        )
