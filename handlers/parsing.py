"""Read what people type after /reviews into typed values, or say precisely what is wrong."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from bot.domain.bounds import MAX_TYPED, within
from bot.domain.errors import InvalidInput
from bot.usecases.history import STATUS_GROUPS as STATUS_GROUPS  # the list buttons read it here
from bot.usecases.history import Criteria, Cursor, HistoryFilter, history_filter
from bot.usecases.periods import parse_day as parse_day  # typed days: one reading
from handlers.blocks.limits import MAX_BUTTON_VALUE
from handlers.quick_send import OPTION_WORD as _KEY
from handlers.text import SLACK_USER_ID as _USER_ID

# A button's value holds at most 2000 characters; the filter text must fit with a cursor.
MAX_QUERY_CHARS = 1500

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


# --- list filters ----------------------------------------------------------------------------

LIST_KEYS = ("status", "via", "by", "from", "to", "sent_from", "sent_to", "type", "ref", "import")


@dataclass(frozen=True)
class ListQuery:
    """A /reviews list filter as typed, and what it means for the store."""

    text: str
    filter: HistoryFilter = field(default_factory=HistoryFilter)


def parse_list_query(text: str, *, timezone: str, user_id: str, region: str = "US") -> ListQuery:
    """Read list filters: status:, via:, by:@user (or by:me), from:, to:, sent_from:, sent_to:,
    type:, ref:, import:, free text.

    Dates are days in the workspace timezone; `to:` and `sent_to:` include their whole day. Several statuses
    are separated by commas (status:queued,paused).

    :raise InvalidInput: an unknown filter or value.
    """
    typed = within(text, MAX_TYPED, what="That filter", field="filter")
    cleaned = " ".join(typed.split())
    if len(cleaned) > MAX_QUERY_CHARS:
        raise InvalidInput("That filter is too long.", field="filter")
    statuses: list[str] = []
    given: dict[str, str] = {}  # the last value of each key wins
    words: list[str] = []
    for token in cleaned.split(" ") if cleaned else []:
        match = _KEY.match(token)
        if match is None or token.startswith(("http:", "https:")):
            words.append(token)
            continue
        key, value = match["key"].lower(), match["value"]
        if key not in LIST_KEYS:
            raise InvalidInput(
                f"I don't know the filter '{key}:'. Use status:, via:, by:, from:, to:, "
                "sent_from:, sent_to:, type:, ref: or import:.",
                field="filter",
            )
        if key == "status":
            statuses += value.split(",")
        else:
            given[key] = value

    def day(key: str) -> date | None:
        return parse_day(given[key], key) if key in given else None

    criteria = Criteria(
        statuses=statuses,
        via=given.get("via"),
        sender=_parse_user(given["by"], user_id) if "by" in given else None,
        review_type=given.get("type"),
        reference=given.get("ref"),
        import_id=given.get("import"),
        created_from=day("from"),
        created_to=day("to"),
        sent_from=day("sent_from"),
        sent_to=day("sent_to"),
        text=" ".join(words),
    )
    return ListQuery(
        text=cleaned, filter=history_filter(criteria, timezone=timezone, region=region)
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
