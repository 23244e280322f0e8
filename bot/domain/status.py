"""The message status machine: ranks, monotonic moves, and a request's displayed status."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    PAUSED = "paused"
    CLAIMED = "claimed"
    SENDING = "sending"
    UNKNOWN = "unknown"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    OPENED = "opened"
    CLICKED = "clicked"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    CANCELED = "canceled"


# Higher rank wins. Provider outcomes that end a message rank above engagement so a
# late "delivered" can never hide a failure, and customer actions rank above both.
# Terminal statuses are ordered among themselves too (undelivered < failed < complained <
# unsubscribed < canceled), so two endings give the same result in either order.
RANK: dict[Status, int] = {
    Status.QUEUED: 0,
    Status.PAUSED: 0,
    Status.CLAIMED: 10,
    Status.SENDING: 20,
    Status.UNKNOWN: 25,
    Status.SENT: 30,
    Status.DELIVERED: 40,
    Status.READ: 50,
    Status.OPENED: 55,
    Status.CLICKED: 60,
    Status.UNDELIVERED: 70,
    Status.FAILED: 75,
    Status.COMPLAINED: 80,
    Status.UNSUBSCRIBED: 85,
    Status.CANCELED: 90,
}

TERMINAL: frozenset[Status] = frozenset(
    {
        Status.UNDELIVERED,
        Status.FAILED,
        Status.COMPLAINED,
        Status.UNSUBSCRIBED,
        Status.CANCELED,
    }
)

# Not yet handed to a provider: these may still be paused, canceled or rescheduled.
PENDING: frozenset[Status] = frozenset({Status.QUEUED, Status.PAUSED})

# Handed over (or maybe handed over): never sent again automatically.
HANDED_OVER: frozenset[Status] = frozenset(
    {s for s in Status if RANK[s] >= RANK[Status.SENDING] and s is not Status.CANCELED}
)

# What the team sees when the provider confirmed the message left.
REACHED: frozenset[Status] = frozenset(
    {
        Status.SENT,
        Status.DELIVERED,
        Status.READ,
        Status.OPENED,
        Status.CLICKED,
        Status.COMPLAINED,
        Status.UNSUBSCRIBED,
    }
)

EMOJI: dict[Status, str] = {
    Status.QUEUED: ":hourglass_flowing_sand:",
    Status.PAUSED: ":double_vertical_bar:",
    Status.CLAIMED: ":outbox_tray:",
    Status.SENDING: ":outbox_tray:",
    Status.UNKNOWN: ":grey_question:",
    Status.SENT: ":incoming_envelope:",
    Status.DELIVERED: ":white_check_mark:",
    Status.READ: ":eyes:",
    Status.OPENED: ":eyes:",
    Status.CLICKED: ":star:",
    Status.UNDELIVERED: ":x:",
    Status.FAILED: ":x:",
    Status.COMPLAINED: ":rotating_light:",
    Status.UNSUBSCRIBED: ":no_bell:",
    Status.CANCELED: ":no_entry_sign:",
}


def can_advance(current: Status, new: Status) -> bool:
    """Say whether a message in `current` may move to `new` on provider or customer evidence."""
    if current in TERMINAL:
        # Only a higher-ranked ending replaces an ending: the order of arrival never matters.
        return new in TERMINAL and RANK[new] > RANK[current]
    return RANK[new] > RANK[current]


def advance(current: Status, new: Status) -> Status:
    """Return the status after `new` is reported: never backwards, an ending only to a higher one."""
    return new if can_advance(current, new) else current


def keep_error(old: str | None, new: str | None) -> str | None:
    """Return the error to store: a stored error code or reason is never cleared or replaced."""
    return old if old else new


# What the customer did that ends a request's reminders, and the reason recorded.
REMINDER_STOPS: dict[Status, str] = {
    Status.CLICKED: "The customer clicked the review link",
    Status.COMPLAINED: "The customer marked a message as spam",
    Status.UNSUBSCRIBED: "The customer unsubscribed",
}


# The displayed status of a request: a customer action first, then the best thing that
# happened to any message, then what is still on its way, then what went wrong.
_DISPLAY_ORDER: tuple[Status, ...] = (
    Status.COMPLAINED,
    Status.UNSUBSCRIBED,
    Status.CLICKED,
    Status.OPENED,
    Status.READ,
    Status.DELIVERED,
    Status.SENT,
    Status.SENDING,
    Status.CLAIMED,
    Status.QUEUED,
    Status.PAUSED,
    Status.UNKNOWN,
    Status.UNDELIVERED,
    Status.FAILED,
    Status.CANCELED,
)


def request_status(message_statuses: Iterable[Status]) -> Status:
    """Derive a request's displayed status from its messages' statuses."""
    present = set(message_statuses)
    for status in _DISPLAY_ORDER:
        if status in present:
            return status
    return Status.CANCELED


def label(status: Status) -> str:
    """Return the status as the team reads it, with its emoji."""
    text = status.value
    if status is Status.OPENED:
        text = "opened (may include mail privacy prefetch)"
    return f"{EMOJI[status]} {text}"
