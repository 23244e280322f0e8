"""When a message may go: inside the workspace's send window (and not on its holidays), and,
for a text (SMS, WhatsApp), inside the recipient's quiet hours in every zone of the number.
The one place that says so, for creating, rescheduling, reminders and the dispatcher's
claim-time check, and that says, for `show`, when the recipient's hours are what holds one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.channels import PHONE_CHANNELS
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
from bot.domain.window import next_allowed, parse_window


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
