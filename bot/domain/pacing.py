"""Per-sender pacing rules: what a sender is, how fast it may send, how a 429 slows it down.

A rate is in messages per second, where an SMS costs one per segment: Twilio meters US and
Canadian throughput in segments, so a 3-segment SMS takes three of a long code's 1/s.
Pure: the reservations themselves live in the database (`bot/usecases/pacing.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.templating import sms_segments

# Sender kinds, also accepted as keys in SENDER_RATES to change a whole kind.
LONG_CODE = "long_code"  # a US or Canadian 10-digit number
TOLL_FREE = "toll_free"  # a US or Canadian toll-free number
SHORT_CODE = "short_code"  # 5-6 digits, no "+"
INTL_NUMBER = "intl_number"  # a number outside the US and Canada
ALPHANUMERIC = "alphanumeric"  # an alphanumeric sender id (the workspace's `sms_sender`)
SERVICE = "service"  # a Twilio messaging service (MG...), as fast as its pool of numbers
WHATSAPP = "whatsapp"  # a WhatsApp sender, whatsapp:+...
SMTP = "smtp"  # the SMTP server of SMTP_URL, keyed smtp:HOST

# Defaults, in messages (SMS: segments) per second. Twilio's "Understanding Twilio Rate Limits
# and Message Queues" (support article) gives 1 segment/s for a US/CA long code, 3 for
# toll-free, 100 for a short code, 10 for other countries' numbers and alphanumeric ids.
# A messaging service sends as fast as its pool of numbers, unknown here: 10 unless set.
# WhatsApp: Twilio's senders start at 80/s; 20 leaves room for a second deployment on the
# same sender. SMTP: 10/s stays under common relay limits (Amazon SES starts at 14/s).
DEFAULT_RATES: dict[str, float] = {
    LONG_CODE: 1.0,
    TOLL_FREE: 3.0,
    SHORT_CODE: 100.0,
    INTL_NUMBER: 10.0,
    ALPHANUMERIC: 10.0,
    SERVICE: 10.0,
    WHATSAPP: 20.0,
    SMTP: 10.0,
}

# North American toll-free area codes (NANPA: 800, 833, 844, 855, 866, 877, 888).
TOLL_FREE_AREAS = frozenset({"800", "833", "844", "855", "866", "877", "888"})

# A 429 halves a sender's rate, never below this (or its own rate, if lower) ...
FLOOR_RATE = 0.1
# ... and each quiet period without another one doubles it back, up to its configured rate.
QUIET_PERIOD = timedelta(minutes=1)

OFF = None  # a rate of None: not paced (the provider paces itself)
Rate = float | None

_NUMBER = re.compile(r"\+?\d+")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


def canonical(key: str) -> str:
    """Write a sender key the one way it is stored: numbers without spaces or dashes."""
    key = key.strip()
    if key.lower().startswith("smtp:"):
        return key.lower()  # a host name, in any case
    prefix = "whatsapp:" if key.lower().startswith("whatsapp:") else ""
    bare = _PHONE_PUNCTUATION.sub("", key[len(prefix) :])
    return prefix + bare if _NUMBER.fullmatch(bare) else key


def kind_of(key: str) -> str:
    """Say what kind of sender a key names."""
    if key.lower().startswith("whatsapp:"):
        return WHATSAPP
    if key.lower().startswith("smtp:"):
        return SMTP
    if re.fullmatch(r"MG[0-9a-fA-F]+", key):
        return SERVICE
    if re.fullmatch(r"\+1\d{10}", key):
        return TOLL_FREE if key[2:5] in TOLL_FREE_AREAS else LONG_CODE
    if re.fullmatch(r"\+\d{6,15}", key):
        return INTL_NUMBER
    if re.fullmatch(r"\d{3,8}", key):
        return SHORT_CODE
    return ALPHANUMERIC


class InvalidRates(ValueError):
    """SENDER_RATES cannot be read."""


@dataclass(frozen=True)
class SenderRates:
    """The operator's rates (SENDER_RATES) over the defaults by kind."""

    overrides: tuple[tuple[str, Rate], ...] = ()

    def rate_for(self, key: str) -> Rate:
        """Return a sender's configured rate: its own, else its kind's, else the default."""
        chosen = dict(self.overrides)
        if key in chosen:
            return chosen[key]
        kind = kind_of(key)
        return chosen[kind] if kind in chosen else DEFAULT_RATES[kind]


def parse_rates(text: str) -> SenderRates:
    """Read `KEY=RATE,KEY=RATE`: a sender or a kind, and messages per second or `off`.

    :raise InvalidRates: a pair that cannot be read, a rate that is not positive, a repeated key.
    """
    pairs: dict[str, Rate] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key or not value:
            raise InvalidRates(
                f"SENDER_RATES: “{part}” is not SENDER=RATE (like +15551234567=1, MG123=30, "
                f"smtp=5, toll_free=3 or whatsapp=off)"
            )
        key = canonical(key)
        if key in pairs:
            raise InvalidRates(f"SENDER_RATES: {key} is given twice")
        pairs[key] = _rate(key, value)
    return SenderRates(tuple(pairs.items()))


def _rate(key: str, value: str) -> Rate:
    if value.lower() == "off":
        return OFF
    try:
        rate = float(value)
    except ValueError:
        rate = 0.0
    if not rate > 0 or rate == float("inf"):
        raise InvalidRates(
            f"SENDER_RATES: the rate of {key} must be a positive number of messages per "
            f"second, or off (got “{value}”)"
        )
    return rate


@dataclass(frozen=True)
class SenderSetup:
    """The deployment's senders, as the providers' adapters use them (keys, not secrets)."""

    sms_from: str | None = None
    messaging_service_sid: str | None = None
    whatsapp_from: str | None = None
    smtp_host: str | None = None

    def key(self, channel: str, sender_name: str | None) -> str | None:
        """Name the sender a message goes out through; None when no provider sends it."""
        if channel == "email":
            return f"smtp:{self.smtp_host}" if self.smtp_host else None
        if channel == "whatsapp":
            if self.whatsapp_from:
                return "whatsapp:" + canonical(self.whatsapp_from).removeprefix("whatsapp:")
            return self.messaging_service_sid
        if not (self.sms_from or self.messaging_service_sid):
            return None
        # As the Twilio sender chooses: the workspace's sender id wins over the service.
        sender = sender_name or (None if self.messaging_service_sid else self.sms_from)
        return canonical(sender) if sender else self.messaging_service_sid


def cost(channel: str, body: str) -> int:
    """What one message takes of its sender's rate: its segments for an SMS, else one."""
    if channel == "sms":
        return max(sms_segments(body).segments, 1)
    return 1


def reserve(
    next_free: datetime | None, rate: float, units: int, now: datetime
) -> tuple[datetime, datetime]:
    """Return a message's slot (the sender's next free moment, or now) and the next one after."""
    slot = max(next_free or now, now)
    return slot, slot + timedelta(seconds=units / rate)


def slowed(current: float, configured: float) -> float:
    """Halve a sender's rate after the provider said too many requests."""
    return max(current / 2, min(configured, FLOOR_RATE))


def recovered(
    current: float, configured: float, changed_at: datetime | None, now: datetime
) -> tuple[float, datetime | None]:
    """Double a slowed rate per quiet period since it last changed; say when it last changed.

    Returns (rate, None) once the sender is back at its configured rate.
    """
    if current >= configured or changed_at is None:
        return configured, None
    steps = int((now - changed_at) / QUIET_PERIOD)
    if steps <= 0:
        return current, changed_at
    rate = min(configured, current * 2 ** min(steps, 32))
    return (rate, None) if rate >= configured else (rate, changed_at + steps * QUIET_PERIOD)


def describe_rate(rate: float) -> str:
    """Say a rate as people read it: `1 message/s`, `1 message every 4 s`."""
    if rate >= 1:
        return f"{rate:g} message{'s' if rate != 1 else ''}/s"
    return f"1 message every {1 / rate:.3g} s"


@dataclass(frozen=True)
class PacedWait:
    """When a message held by its sender's pace is expected to go, and why."""

    message_id: int
    expected_at: datetime
    sender: str
    rate: float
    ahead: int

    def sentence(self, when: str, sender: str | None = None) -> str:
        """Say it, with `when` written in the reader's time (and the sender escaped, if need be)."""
        return (
            f"expected about {when} (sender {sender or self.sender} sends "
            f"{describe_rate(self.rate)}; "
            f"{self.ahead} ahead)"
        )
