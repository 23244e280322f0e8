"""When a message may go: inside the workspace's send window (and not on its holidays), and,
for a text (SMS, WhatsApp), inside the recipient's quiet hours in every zone of the number.
The one place that says so, for creating, rescheduling, reminders and the dispatcher's
claim-time check, and that says, for `show`, what holds a waiting one: the send window, a
holiday or the recipient's hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.domain.channels import PHONE_CHANNELS
from bot.domain.errors import InvalidInput
from bot.domain.policy import WorkspacePolicy
from bot.domain.quiet_hours import (
    NeverReachable,
    QuietHours,
    Rule,
    earliest_common,
    outside_zone,
    parse_quiet_hours,
    recipient_zones,
    zone_rule,
)
from bot.domain.timing import parse_delay
from bot.domain.window import holiday_name, next_allowed, parse_window

When = Literal["now", "at", "delay"]


def earliest_send(
    now: datetime, policy: WorkspacePolicy, channel: str | None, phone: str | None
) -> datetime:
    """The earliest instant at or after `now` a message by `channel` to `phone` may go (UTC).

    `channel` None (or email): the send window alone.

    :raise NeverReachable: the window and the recipient's hours never meet within a year.
    """
    return earliest_common(now, _rules(policy, channel, phone))


def _rules(policy: WorkspacePolicy, channel: str | None, phone: str | None) -> list[Rule]:
    window = parse_window(policy.send_window)
    tz, holidays = policy.timezone, policy.holidays
    rules: list[Rule] = [lambda at: next_allowed(at, tz, window, holidays)]
    if channel in PHONE_CHANNELS and phone:
        hours = parse_quiet_hours(policy.quiet_hours)
        rules += [zone_rule(zone, hours) for zone in recipient_zones(phone, tz)]
    return rules


@dataclass(frozen=True)
class QuietWait:
    """A text held back by the recipient's local hours."""

    message_id: int
    hours: QuietHours
    zone: str
    local_time: str  # the recipient's wall clock when the window would have let it go

    def sentence(self) -> str:
        return (
            f"waits for the recipient's hours ({self.hours}): recipient's local time "
            f"{self.local_time} in {self.zone}"
        )


def quiet_wait(
    message_id: int,
    channel: str,
    phone: str | None,
    due_at: datetime,
    now: datetime,
    policy: WorkspacePolicy,
) -> QuietWait | None:
    """Say whether the recipient's hours are what holds a waiting text (None: they are not).

    They are when, without them, it could go earlier than with them, and it is due no later
    than they allow (a text delayed past them waits for its delay, not for them).
    """
    if channel not in PHONE_CHANNELS or not phone:
        return None
    try:
        window_says = earliest_send(now, policy, None, phone)
        hours_say = earliest_send(now, policy, channel, phone)
    except NeverReachable:
        return None  # the dispatcher fails it with that reason when it comes due
    if hours_say <= window_says or due_at > hours_say:
        return None
    hours = parse_quiet_hours(policy.quiet_hours)
    outside = outside_zone(window_says, recipient_zones(phone, policy.timezone), hours)
    if outside is None:  # pragma: no cover - the hours moved it, so a zone refused that time
        return None
    return QuietWait(message_id, hours, *outside)


@dataclass(frozen=True)
class WindowWait:
    """A message held back by the workspace's send window or one of its holidays."""

    message_id: int
    reasons: tuple[str, ...]  # `why_later`'s words: "outside the send window ...", "... holiday"

    def sentence(self) -> str:
        return f"waits: {'; '.join(self.reasons)}"


def window_wait(
    message_id: int, due_at: datetime, now: datetime, policy: WorkspacePolicy
) -> WindowWait | None:
    """Say whether the send window or a holiday is what holds a waiting message (None: not).

    It is when the window does not let anything go now and the message is due no later than
    the window's next opening (one delayed past it waits for its delay, not for the window).
    """
    reasons = why_later(now, policy, None, None)
    if not reasons or due_at > earliest_send(now, policy, None, None):
        return None
    return WindowWait(message_id, tuple(reasons))


def asked_time(
    when: When,
    at: datetime | None,
    delay: timedelta | None,
    policy: WorkspacePolicy,
    now: datetime,
) -> datetime:
    """The time a request asks for (now, a date, a delay or the workspace's), before the rules.

    :raise InvalidInput: no time, a time without a timezone, or one already passed.
    """
    if when == "now":
        return now
    if when == "at":
        if at is None:
            raise InvalidInput("Pick a date and time.", field="when")
        if at.tzinfo is None:
            raise InvalidInput("The time needs a timezone.", field="when")
        if at < now - timedelta(minutes=1):
            raise InvalidInput("That time has already passed.", field="when")
        return max(at, now)
    return now + (delay if delay is not None else parse_delay(policy.delay))


def why_later(
    asked: datetime, policy: WorkspacePolicy, channel: str | None, phone: str | None
) -> list[str]:
    """Say why a message asked for `asked` goes later, as `earliest_send` decides: outside the
    send window, a public holiday, the recipient's hours (empty: it goes when asked).

    :raise NeverReachable: as `earliest_send`.
    """
    tz, holidays = policy.timezone, policy.holidays
    window = parse_window(policy.send_window)
    by_window = next_allowed(asked, tz, window, None)
    by_days = next_allowed(asked, tz, window, holidays)
    reasons: list[str] = []
    if by_window > asked:
        reasons.append(f"outside the send window {policy.send_window}")
    if by_days > by_window:
        name = holiday_name(_local_day(by_window, tz), holidays) or "a public holiday"
        reasons.append(f"{name} is a public holiday ({holidays})")
    if earliest_send(asked, policy, channel, phone) > by_days:
        assert phone is not None  # only a text to a number waits for its recipient's hours
        hours = parse_quiet_hours(policy.quiet_hours)
        outside = outside_zone(by_days, recipient_zones(phone, tz), hours)
        local = f": their local time would be {outside[1]} in {outside[0]}" if outside else ""
        reasons.append(f"the recipient's hours are {hours}{local}")
    return reasons


def why_request_later(
    asked: datetime, policy: WorkspacePolicy, channels: str, phone: str | None
) -> list[str]:
    """Say why a request's first message goes later than asked (`why_later`).

    `channels` is the request's ("sms", "sms+email"): with several, the first to go is the
    one the window alone holds, so the recipient's hours are not its reason.
    """
    parts = channels.split("+")
    channel = parts[0] if len(parts) == 1 else None
    return why_later(asked, policy, channel, phone if channel in PHONE_CHANNELS else None)


def _local_day(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()
