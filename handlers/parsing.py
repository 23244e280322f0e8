"""Read what people type after /reviews into typed values, or say precisely what is wrong."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from bot.domain import contacts
from bot.domain.errors import InvalidInput
from bot.domain.status import Status
from bot.domain.timing import parse_delay, parse_when
from bot.requests import METHOD_LABELS, Method, RequestCreate, ReviewType
from handlers.blocks.limits import MAX_BUTTON_VALUE
from handlers.text import SLACK_USER_ID as _USER_ID
from store.queries import Cursor, HistoryFilter

SUBCOMMANDS = (
    "send",
    "list",
    "show",
    "pause",
    "resume",
    "cancel",
    "delete",
    "edit",
    "stats",
    "export",
    "settings",
    "help",
)
MAX_TEXT_FILTER = 100
# A button's value holds at most 2000 characters; the filter text must fit with a cursor.
MAX_QUERY_CHARS = 1500

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
CHANNELS = ("sms", "whatsapp", "email")
REVIEW_TYPES: tuple[ReviewType, ...] = ("service", "product")
LANGUAGES = ("en", "fr", "sv")

# The four summary numbers of the list; each filters the list to its statuses.
STATUS_GROUPS: dict[str, frozenset[str]] = {
    "sent": frozenset(
        {"sent", "delivered", "read", "opened", "clicked", "complained", "unsubscribed"}
    ),
    "opened": frozenset({"opened", "clicked"}),
    "clicked": frozenset({"clicked"}),
    "failed": frozenset({"failed", "undelivered"}),
}
STATUS_ALIASES = {"scheduled": "queued", "cancelled": "canceled", "waiting": "queued"}

_KEY = re.compile(r"^(?P<key>[a-z_]+):(?P<value>.*)$", re.I)
_PHONE_PART = re.compile(r"^[+(]?[\d().\-/]*\d[\d().\-/]*$")
_EMAIL = re.compile(r"^[^@\s<>]*@[^@\s<>]*$")
_MENTION = re.compile(r"^<@(?P<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}$")
_QUOTES = ('"', "'", "“", "”")
_DAY_WORDS = re.compile(
    r"^(today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$", re.I
)


@dataclass(frozen=True)
class Command:
    """A /reviews invocation split into its subcommand and the rest of the text."""

    name: str
    args: str


def split_command(text: str) -> Command:
    """Split "/reviews pause #4 5" into ("pause", "#4 5"); an empty text is "help"."""
    cleaned = (text or "").strip()
    if not cleaned:
        return Command("help", "")
    head, _, rest = cleaned.partition(" ")
    return Command(head.lower(), rest.strip())


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
    force:yes (send even if the customer was invited recently). After the phone or email,
    a bare `tomorrow 10:00` (today, tomorrow or a weekday, with an optional time) means at:.

    :raise InvalidInput: an unknown option, a bad value, or neither phone nor email.
    """
    words = _sort_words((text or "").split())
    _check_words(words)
    options = words.options
    method = parse_method(options["via"]) if "via" in options else None
    review_type = parse_review_type(options["type"]) if "type" in options else "service"
    language = _read_language(options)
    when, delay, at = _read_when(options, now=now, timezone=timezone)
    force = options.get("force", "no").strip().lower()
    if force not in ("yes", "no", "true", "false", "1", "0"):
        raise InvalidInput("force: takes yes or no.", field="force")
    reference = options.get("ref", "").strip() or None
    if reference is not None and len(reference) > 100:
        raise InvalidInput("A reference has at most 100 characters.", field="reference")
    return RequestCreate(
        name=" ".join(words.name) or None,
        phone=" ".join(words.phone) or None,
        email=words.emails[0] if words.emails else None,
        method=method,
        review_type=review_type,
        reference=reference,
        when=when,
        at=at,
        delay=delay if when == "delay" else None,
        language=language,
        override_cooldown=force in ("yes", "true", "1"),
        origin_channel=origin_channel,
    )


def _sort_words(tokens: list[str]) -> _QuickSendWords:
    words = _QuickSendWords()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        key = _KEY.match(token)
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
    unknown = sorted(set(words.options) - {"via", "ref", "type", "lang", "in", "at", "force"})
    if unknown:
        raise InvalidInput(
            f"I don't know the option '{unknown[0]}:'. Use via:, ref:, type:, lang:, in:, at: or force:yes.",
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


def _read_language(options: dict[str, str]) -> str | None:
    if "lang" not in options:
        return None
    language = options["lang"].strip().lower()
    if language not in LANGUAGES:
        raise InvalidInput(
            f"'{options['lang']}' is not a language I send in: use en, fr or sv.",
            field="language",
        )
    return language


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


@dataclass(frozen=True)
class ListQuery:
    """A /reviews list filter as typed, and what it means for the store."""

    text: str
    filter: HistoryFilter = field(default_factory=HistoryFilter)


def _parse_day(value: str, key: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"'{value}' is not a date for {key}: (write it like 2026-12-01).", field=key
        ) from exc


def parse_list_query(text: str, *, timezone: str, user_id: str, region: str = "US") -> ListQuery:
    """Read list filters: status:, via:, by:@user (or by:me), from:, to:, sent_from:, sent_to:,
    type:, ref:, free text.

    Dates are days in the workspace timezone; `to:` and `sent_to:` include their whole day. Several statuses
    are separated by commas (status:queued,paused).

    :raise InvalidInput: an unknown filter or value.
    """
    cleaned = " ".join((text or "").split())
    if len(cleaned) > MAX_QUERY_CHARS:
        raise InvalidInput("That filter is too long.", field="filter")
    zone = ZoneInfo(timezone)
    statuses: set[str] = set()
    channel = created_by = review_type = reference = None
    start = end = sent_start = sent_end = None
    words: list[str] = []
    for token in cleaned.split(" ") if cleaned else []:
        match = _KEY.match(token)
        if match is None or token.startswith(("http:", "https:")):
            words.append(token)
            continue
        key, value = match["key"].lower(), match["value"]
        if key == "status":
            for part in value.lower().split(","):
                part = STATUS_ALIASES.get(part.strip(), part.strip())
                if part in STATUS_GROUPS and part not in {s.value for s in Status}:
                    statuses |= STATUS_GROUPS[part]
                elif part in {s.value for s in Status}:
                    statuses.add(part)
                elif part:
                    raise InvalidInput(
                        f"'{part}' is not a status. Use one of: "
                        f"{', '.join(s.value for s in Status if s.value not in ('claimed', 'sending'))}.",
                        field="status",
                    )
        elif key == "via":
            channel = value.strip().lower()
            channel = {"text": "sms", "mail": "email", "wa": "whatsapp"}.get(channel, channel)
            if channel not in CHANNELS:
                raise InvalidInput(
                    f"'{value}' is not a channel: use sms, whatsapp or email.", field="via"
                )
        elif key == "by":
            created_by = _parse_user(value, user_id)
        elif key == "type":
            review_type = parse_review_type(value)
        elif key == "ref":
            reference = value.strip() or None
        elif key == "from":
            start = datetime.combine(_parse_day(value, "from"), time(0), tzinfo=zone)
        elif key == "to":
            end = datetime.combine(
                _parse_day(value, "to") + timedelta(days=1), time(0), tzinfo=zone
            )
        elif key == "sent_from":
            sent_start = datetime.combine(_parse_day(value, key), time(0), tzinfo=zone)
        elif key == "sent_to":
            sent_end = datetime.combine(
                _parse_day(value, key) + timedelta(days=1), time(0), tzinfo=zone
            )
        else:
            raise InvalidInput(
                f"I don't know the filter '{key}:'. Use status:, via:, by:, from:, to:, "
                "sent_from:, sent_to:, type: or ref:.",
                field="filter",
            )
    if start and end and end <= start:
        raise InvalidInput("from: must come before to:.", field="to")
    if sent_start and sent_end and sent_end <= sent_start:
        raise InvalidInput("sent_from: must come before sent_to:.", field="sent_to")
    free = " ".join(words).strip()
    if len(free) > MAX_TEXT_FILTER:
        raise InvalidInput(
            f"Search for at most {MAX_TEXT_FILTER} characters of a name, email or phone.",
            field="text",
        )
    phone = contacts.phone_search(free, region)
    return ListQuery(
        text=cleaned,
        filter=HistoryFilter(
            statuses=frozenset(statuses),
            channel=channel,
            created_by=created_by,
            review_type=review_type,
            reference=reference,
            created_from=start.astimezone(UTC) if start else None,
            created_to=end.astimezone(UTC) if end else None,
            sent_from=sent_start.astimezone(UTC) if sent_start else None,
            sent_to=sent_end.astimezone(UTC) if sent_end else None,
            text=free or None,
            phone=phone.e164,
            phone_prefix=phone.prefix,
        ),
    )


def _parse_user(value: str, user_id: str) -> str:
    cleaned = value.strip()
    if cleaned.lower() in ("me", "@me"):
        return user_id
    mention = _MENTION.match(cleaned)
    if mention:
        return mention["id"]
    if _USER_ID.match(cleaned):
        return cleaned
    raise InvalidInput(
        f"'{value}' is not a Slack user: mention them, like by:@jane, or write by:me.",
        field="by",
    )


def replace_statuses(query_text: str, statuses: frozenset[str]) -> str:
    """Return the filter text with its status: filter replaced (count buttons)."""
    kept = [t for t in query_text.split() if not t.lower().startswith("status:")]
    if statuses:
        kept.insert(0, "status:" + ",".join(sorted(statuses)))
    return " ".join(kept)


# --- what travels in button values and private_metadata ------------------------------------


@dataclass(frozen=True)
class PageState:
    """Where a list page is: its filter text and the keyset cursor it was read from."""

    query: str = ""
    after: Cursor | None = None
    before: Cursor | None = None

    def encode(self) -> str:
        data: dict[str, Any] = {"q": self.query}
        if self.after:
            data["a"] = self.after.encode()
        if self.before:
            data["b"] = self.before.encode()
        value = json.dumps(data, separators=(",", ":"))
        if len(value) > MAX_BUTTON_VALUE:
            raise InvalidInput("That filter is too long.", field="filter")
        return value

    @classmethod
    def decode(cls, value: str) -> PageState:
        """Read a state made by `encode`.

        :raise InvalidInput: it was not made by `encode` (an old or tampered button).
        """
        try:
            data = json.loads(value or "{}")
            after = Cursor.decode(data["a"]) if data.get("a") else None
            before = Cursor.decode(data["b"]) if data.get("b") else None
            return cls(str(data.get("q", "")), after, before)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput("That list is out of date: run /reviews list again.") from exc

    def first_page(self) -> PageState:
        return replace(self, after=None, before=None)
