"""Read the quick form `/reviews send Jane Doe +33 6 10 20 30 40 via:sms in:2h` into a request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, cast

from bot.domain.bounds import within
from bot.domain.channels import METHOD_LABELS
from bot.domain.errors import InvalidInput
from bot.domain.timing import parse_delay, parse_when
from bot.usecases.inputs import Method, RequestCreate, ReviewType

METHOD_ALIASES: dict[str, Method] = {
    "sms": "sms",
    "text": "sms",
    "whatsapp": "whatsapp",
    "wa": "whatsapp",
    "email": "email",
    "mail": "email",
    "e-mail": "email",
    "sms_or_email": "sms_or_email",
    "sms-or-email": "sms_or_email",
    "sms/email": "sms_or_email",
    "sms_and_email": "sms_and_email",
    "sms-and-email": "sms_and_email",
    "sms+email": "sms_and_email",
    "both": "sms_and_email",
}
REVIEW_TYPES: tuple[ReviewType, ...] = ("service", "product")
# A name, a phone or an email and every option fit in far less; nothing longer is read.
MAX_QUICK_SEND = 1000

# A `key:value` word: an option of the quick form or a filter of the list.
OPTION_WORD = re.compile(r"^(?P<key>[a-z_]+):(?P<value>.*)$", re.I)
# Punctuation, then a digit, then digits and punctuation. The part before the first digit takes
# no digit, so there is one way to match: "[\d…]*\d[\d…]*" tried every split of a long
# number (40,000 digits took 40 s).
_PHONE_PART = re.compile(r"^[+(]?[().\-/]*\d[\d().\-/]*$")
_EMAIL = re.compile(r"^[^@\s<>]*@[^@\s<>]*$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}$")
_QUOTES = ('"', "'", "“", "”")
_DAY_WORDS = re.compile(
    r"^(today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$", re.I
)


def parse_method(value: str) -> Method:
    """Read a send method (sms, whatsapp, email, sms_or_email, sms_and_email).

    :raise InvalidInput: anything else.
    """
    method = METHOD_ALIASES.get(value.strip().lower())
    if method is None:
        raise InvalidInput(
            f"'{value}' is not a way to send: use {', '.join(METHOD_LABELS)}.", field="method"
        )
    return method


def parse_review_type(value: str) -> ReviewType:
    """Read a review type.

    :raise InvalidInput: not service or product.
    """
    kind = value.strip().lower()
    if kind not in REVIEW_TYPES:
        raise InvalidInput(f"'{value}' is not a review type: use service or product.", field="type")
    return cast(ReviewType, kind)


@dataclass
class _QuickSendWords:
    """The words of a quick send, sorted: name, phone parts, emails and key:value options."""

    name: list[str] = field(default_factory=list)
    phone: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)

    def add_option(self, key: str, value: str) -> None:
        if key in self.options:
            raise InvalidInput(f"'{key}:' is given twice.", field=key)
        self.options[key] = value


def parse_quick_send(
    text: str, *, now: datetime, timezone: str, origin_channel: str | None = None
) -> RequestCreate:
    """Read `Jane Doe +33 6 10 20 30 40 via:sms ref:A-1 type:product in:2h` into a request.

    Options: via:, ref:, type:, lang:, in: (a delay: in:2h, in:1d) or at: (in the workspace
    timezone: at:tomorrow 10:00, at:"monday 9:30", at:16:00, at:2026-12-01 10:00), and
    force:yes (send even if the customer was invited recently), consent:yes (the customer agreed
    to be contacted: required by the setting require_consent). After the phone or email,
    a bare `tomorrow 10:00` (today, tomorrow or a weekday, with an optional time) means at:.

    :raise InvalidInput: an unknown option, a bad value, or neither phone nor email.
    """
    typed = within(text, MAX_QUICK_SEND, what="That request")
    words = _sort_words(typed.split())
    _check_words(words)
    options = words.options
    method = parse_method(options["via"]) if "via" in options else None
    review_type = parse_review_type(options["type"]) if "type" in options else "service"
    when, delay, at = _read_when(options, now=now, timezone=timezone)
    force = _yes_no(options, "force")
    consent = _yes_no(options, "consent")
    # The request's own model checks each field's length, language and characters.
    return RequestCreate(
        name=" ".join(words.name) or None,
        phone=" ".join(words.phone) or None,
        email=words.emails[0] if words.emails else None,
        method=method,
        review_type=review_type,
        reference=options.get("ref") or None,
        when=when,
        at=at,
        delay=delay if when == "delay" else None,
        language=options.get("lang") or None,
        override_cooldown=force,
        origin_channel=origin_channel,
        origin="slack",
        consent=consent,
    )


def _yes_no(options: dict[str, str], key: str) -> bool:
    value = options.get(key, "no").strip().lower()
    if value not in ("yes", "no", "true", "false", "1", "0"):
        raise InvalidInput(f"{key}: takes yes or no.", field=key)
    return value in ("yes", "true", "1")


def _sort_words(tokens: list[str]) -> _QuickSendWords:
    words = _QuickSendWords()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        key = OPTION_WORD.match(token)
        if key and not token.startswith(("http:", "https:", "mailto:")):
            value, i = _option_value(tokens, i, key["key"].lower(), key["value"])
            words.add_option(key["key"].lower(), value)
        elif (words.phone or words.emails) and _DAY_WORDS.match(token):
            # After the contact, "tomorrow 10:00" or "monday" is when to send it.
            value, i = _with_clock(tokens, i, token)
            words.add_option("at", value)
        elif _EMAIL.match(token):
            words.emails.append(token)
        elif _PHONE_PART.match(token):
            words.phone.append(token)
        elif words.phone:
            raise InvalidInput(
                f"'{token}' comes after the phone number: write the name first, "
                "like `/reviews send Jane Doe +33 6 10 20 30 40`.",
                field="phone",
            )
        else:
            words.name.append(token)
        i += 1
    return words


def _option_value(tokens: list[str], i: int, key: str, value: str) -> tuple[str, int]:
    """Read an option's value, quoted over several words or an at: date followed by a time."""
    if value[:1] in _QUOTES:  # at:"tomorrow 10:00"
        while not (len(value) > 1 and value[-1] in _QUOTES) and i + 1 < len(tokens):
            i += 1
            value = f"{value} {tokens[i]}"
        return value.strip("".join(_QUOTES)), i
    if key == "at":
        return _with_clock(tokens, i, value)  # at:2026-12-01 10:00, at:tomorrow 10:00
    return value, i


def _with_clock(tokens: list[str], i: int, value: str) -> tuple[str, int]:
    if i + 1 < len(tokens) and _CLOCK.match(tokens[i + 1]):
        return f"{value} {tokens[i + 1]}", i + 1
    return value, i


def _check_words(words: _QuickSendWords) -> None:
    unknown = sorted(
        set(words.options) - {"via", "ref", "type", "lang", "in", "at", "force", "consent"}
    )
    if unknown:
        raise InvalidInput(
            f"I don't know the option '{unknown[0]}:'. Use via:, ref:, type:, lang:, in:, at:, force:yes or consent:yes.",
            field=unknown[0],
        )
    if len(words.emails) > 1:
        raise InvalidInput("Give one email address.", field="email")
    if not words.phone and not words.emails:
        raise InvalidInput(
            "Give a phone number or an email address, like "
            "`/reviews send Jane Doe +33 6 10 20 30 40` or `/reviews send Jane Doe jane@example.com`.",
            field="phone",
        )


def _read_when(
    options: dict[str, str], *, now: datetime, timezone: str
) -> tuple[Literal["now", "delay", "at"], timedelta | None, datetime | None]:
    """Read in: or at: into (when, delay, at)."""
    if "in" in options and "at" in options:
        raise InvalidInput("Give in: or at:, not both.", field="when")
    if "at" in options:
        return "at", None, parse_when(options["at"], now=now, tz=timezone, field="when")
    if "in" in options:
        delay = parse_delay(options["in"], field="when")
        return ("now" if delay == timedelta(0) else "delay"), delay, None
    return "delay", None, None


# --- list filters ----------------------------------------------------------------------------
