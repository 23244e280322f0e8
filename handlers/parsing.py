"""Read what people type after /reviews into typed values, or say precisely what is wrong."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import contacts
from bot.domain.errors import InvalidInput
from bot.domain.status import Status
from handlers.blocks.limits import MAX_BUTTON_VALUE
from handlers.quick_send import OPTION_WORD as _KEY
from handlers.quick_send import parse_review_type
from handlers.text import CHANNEL_LABELS
from handlers.text import SLACK_USER_ID as _USER_ID
from store.queries import Cursor, HistoryFilter

MAX_TEXT_FILTER = 100
# A button's value holds at most 2000 characters; the filter text must fit with a cursor.
MAX_QUERY_CHARS = 1500

CHANNELS = tuple(CHANNEL_LABELS)

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

_MENTION = re.compile(r"^<@(?P<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>$")


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
