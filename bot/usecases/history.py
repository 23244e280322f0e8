"""The one read path of the request history: Slack's list, the App Home, stats, the CLI, export.

`history_filter` is the only place a person's criteria (typed in Slack or given to the CLI)
become a `HistoryFilter`; the readers below return what each surface shows. Handlers and the
CLI import the types they render from here, never from the store.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

from bot.domain import contacts
from bot.domain.channels import CHANNELS
from bot.domain.errors import InvalidInput
from bot.domain.status import PENDING, REACHED, Status
from bot.domain.templating import sms_segments
from bot.domain.typed_text import control_character_reason
from bot.usecases.history_period import DayTally, DetailedReport, detailed_report
from bot.usecases.inputs import ReviewType
from store.db import Database
from store.exports import BATCH, ExportRow, iter_export_rows
from store.filter_sql import HistoryFilter
from store.models import Contact, Event, Message, ReviewRequest
from store.queries import (
    FAILED_STATUSES,
    ContactHistory,
    Counts,
    Cursor,
    Page,
    count_groups,
    count_requests,
    counts,
    list_requests,
    message_statuses,
)
from store.stats import PeriodStats, SenderTally, Tally, period_stats

__all__ = [
    "BATCH",
    "CHANNELS",
    "STATUS_GROUPS",
    "Contact",
    "ContactHistory",
    "Counts",
    "Criteria",
    "Event",
    "Cursor",
    "DayTally",
    "DetailedReport",
    "ExportRow",
    "HistoryFilter",
    "HistoryPage",
    "HomeNumbers",
    "ListedRequest",
    "Message",
    "NotAChoice",
    "Page",
    "PeriodReport",
    "PeriodStats",
    "ReviewRequest",
    "SenderTally",
    "Tally",
    "count_matching",
    "detailed_report",
    "end_of_day",
    "export_rows",
    "history_filter",
    "home_numbers",
    "latest",
    "list_page",
    "period_report",
    "start_of_day",
    "waiting_requests",
]

CHANNEL_ALIASES = {"text": "sms", "mail": "email", "wa": "whatsapp"}
STATUS_ALIASES = {"scheduled": "queued", "cancelled": "canceled", "waiting": "queued"}
# Statuses a person may filter on; the two in-flight ones are accepted but not offered.
STATUS_CHOICES = tuple(s.value for s in Status if s not in (Status.CLAIMED, Status.SENDING))
REVIEW_TYPES: tuple[str, ...] = get_args(ReviewType)
MAX_TEXT_FILTER = 100

# The four summary numbers of the list; each filters the list to its statuses.
STATUS_GROUPS: dict[str, frozenset[str]] = {
    "sent": frozenset(s.value for s in REACHED),
    "opened": frozenset({Status.OPENED.value, Status.CLICKED.value}),
    "clicked": frozenset({Status.CLICKED.value}),
    "failed": frozenset(FAILED_STATUSES),
}
WAITING = HistoryFilter(statuses=frozenset(s.value for s in PENDING))


class NotAChoice(InvalidInput):
    """A criterion's word is none of the values it takes; `choices` lists them."""

    def __init__(self, message: str, *, field: str, value: str, choices: Sequence[str]) -> None:
        super().__init__(message, field=field)
        self.value = value
        self.choices = tuple(choices)


@dataclass(frozen=True)
class Criteria:
    """What a person asked to see, as given: words to check and days in the workspace's zone."""

    statuses: Sequence[str] = ()  # status words, aliases allowed ("scheduled")
    via: str | None = None  # sms, whatsapp, email (or text, mail, wa)
    sender: str | None = None  # the Slack user id of who created the request
    review_type: str | None = None
    reference: str | None = None
    created_from: date | None = None
    created_to: date | None = None  # included
    sent_from: date | None = None
    sent_to: date | None = None  # included
    text: str | None = None  # name, email or phone, whole or partial
    import_id: str | None = None  # a CSV import's id, as typed ("3" or "#3")


def start_of_day(day: date, timezone: str) -> datetime:
    """Return the UTC instant a day starts in a timezone.

    :raise InvalidInput: a day at the very ends of the calendar (no instant to give).
    """
    try:
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(f"{day} is too far from today.", field="day") from exc


def end_of_day(day: date, timezone: str) -> datetime:
    """Return the UTC instant a day ends in a timezone (the next day's start, exclusive).

    :raise InvalidInput: a day at the very ends of the calendar.
    """
    if day == date.max:
        raise InvalidInput(f"{day} is too far from today.", field="day")
    return start_of_day(day + timedelta(days=1), timezone)


def history_filter(criteria: Criteria, *, timezone: str, region: str) -> HistoryFilter:
    """Check a person's criteria and turn them into the filter every reader takes.

    :raise InvalidInput: an unknown status, channel or type (`NotAChoice`), a range that ends
        before it starts, or too long a text.
    """
    created_from, created_to = _day_range(criteria.created_from, criteria.created_to, timezone)
    sent_from, sent_to = _day_range(criteria.sent_from, criteria.sent_to, timezone, "sent_")
    # Spaces, tabs and line breaks between words are one space; other control characters
    # are refused.
    text = " ".join((criteria.text or "").split())
    _refuse_control_characters(text=text, reference=criteria.reference, sender=criteria.sender)
    if len(text) > MAX_TEXT_FILTER:
        raise InvalidInput(
            f"Search for at most {MAX_TEXT_FILTER} characters of a name, email or phone.",
            field="text",
        )
    phone = contacts.phone_search(text, region)
    return HistoryFilter(
        statuses=_statuses(criteria.statuses),
        channel=None if criteria.via is None else _channel(criteria.via),
        created_by=criteria.sender,
        review_type=None if criteria.review_type is None else _review_type(criteria.review_type),
        reference=(criteria.reference or "").strip() or None,
        created_from=created_from,
        created_to=created_to,
        sent_from=sent_from,
        sent_to=sent_to,
        text=text or None,
        phone=phone.e164,
        phone_prefix=phone.prefix,
        import_id=None if criteria.import_id is None else read_import_id(criteria.import_id),
    )


def _refuse_control_characters(**typed: str | None) -> None:
    # A NUL ends SQLite's full-text query early ("unterminated string") and PostgreSQL refuses
    # it in any string: a control character is refused where it was typed, on every surface.
    for field, value in typed.items():
        problem = control_character_reason(value) if value else None
        if problem:
            raise InvalidInput(f"The {field} to search for {problem}.", field=field)


def read_import_id(word: str) -> int:
    """Read an import's id as typed (`3`, `#3`), bounded: every surface reads it here.

    :raise InvalidInput: not a positive number of at most 12 digits.
    """
    cleaned = word.strip().lstrip("#")
    if not cleaned.isdigit() or len(cleaned) > 12 or int(cleaned) == 0:
        raise InvalidInput(
            f"'{word[:20]}' is not an import: write its id, like import:3.", field="import"
        )
    return int(cleaned)


def _statuses(words: Sequence[str]) -> frozenset[str]:
    statuses: set[str] = set()
    known = {s.value for s in Status}
    for word in words:
        cleaned = word.strip().lower()
        status = STATUS_ALIASES.get(cleaned, cleaned)
        if status in known:
            statuses.add(status)
        elif status:
            raise NotAChoice(
                f"'{status}' is not a status. Use one of: {', '.join(STATUS_CHOICES)}.",
                field="status",
                value=status,
                choices=STATUS_CHOICES,
            )
    return frozenset(statuses)


def _channel(word: str) -> str:
    cleaned = word.strip().lower()
    channel = CHANNEL_ALIASES.get(cleaned, cleaned)
    if channel not in CHANNELS:
        raise NotAChoice(
            f"'{word}' is not a channel: use sms, whatsapp or email.",
            field="via",
            value=word,
            choices=CHANNELS,
        )
    return channel


def _review_type(word: str) -> str:
    kind = word.strip().lower()
    if kind not in REVIEW_TYPES:
        raise NotAChoice(
            f"'{word}' is not a review type: use service or product.",
            field="type",
            value=word,
            choices=REVIEW_TYPES,
        )
    return kind


def _day_range(
    first: date | None, last: date | None, timezone: str, prefix: str = ""
) -> tuple[datetime | None, datetime | None]:
    """Return the UTC bounds of the days from `first` to `last`, both included.

    :raise InvalidInput: `last` is before `first`.
    """
    if first and last and last < first:
        raise InvalidInput(f"{prefix}from: must come before {prefix}to:.", field=f"{prefix}to")
    return (
        start_of_day(first, timezone) if first else None,
        end_of_day(last, timezone) if last else None,
    )


# --- Slack's list page ---------------------------------------------------------------------


@dataclass(frozen=True)
class ListedRequest:
    """One request on a list page, with the statuses of its messages still waiting."""

    request: ReviewRequest
    waiting: frozenset[Status]


@dataclass(frozen=True)
class HistoryPage:
    """One page of the list: its rows, the cursors around it, and the summary counts."""

    rows: list[ListedRequest]
    next: Cursor | None  # older rows
    prev: Cursor | None  # newer rows
    counts: dict[str, int]  # per STATUS_GROUPS key, the filter's matches in that group


def list_page(
    db: Database,
    workspace_id: int,
    f: HistoryFilter,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    limit: int = 10,
) -> HistoryPage:
    """Read one page of the history, newest first, with what waits and the summary counts."""
    with db.read() as session:
        page = list_requests(session, workspace_id, f, after=after, before=before, limit=limit)
        ids = [r.id for r in page.rows if r.id is not None]
        waiting: dict[int, set[Status]] = {}
        for request_id, status in message_statuses(session, ids, {s.value for s in PENDING}):
            waiting.setdefault(request_id, set()).add(Status(status))
        group_counts = count_groups(session, workspace_id, f, STATUS_GROUPS)
    rows = [ListedRequest(r, frozenset(waiting.get(r.id or 0, set()))) for r in page.rows]
    return HistoryPage(rows=rows, next=page.next, prev=page.prev, counts=group_counts)


def latest(
    db: Database, workspace_id: int, f: HistoryFilter, *, limit: int, after: Cursor | None = None
) -> Page:
    """Return the newest requests matching a filter (at most `limit`, older than `after`)."""
    with db.read() as session:
        return list_requests(session, workspace_id, f, after=after, limit=limit)


# --- the App Home and /reviews stats -------------------------------------------------------


@dataclass(frozen=True)
class HomeNumbers:
    """The App Home's numbers: counts per period, how many wait, and the latest requests."""

    periods: list[tuple[int, Counts]]  # (days, counts of the requests created in them)
    waiting: int
    recent: list[ReviewRequest]


def home_numbers(
    db: Database, workspace_id: int, *, now: datetime, periods: Sequence[int], recent: int
) -> HomeNumbers:
    """Count the requests created in each of the last `periods` days, what waits, and the latest."""
    with db.read() as session:
        counted = [
            (days, counts(session, workspace_id, HistoryFilter(created_from=now - timedelta(days))))
            for days in periods
        ]
        waiting = counts(session, workspace_id).queued
        rows = list_requests(session, workspace_id, HistoryFilter(), limit=recent).rows
    return HomeNumbers(periods=counted, waiting=waiting, recent=rows)


def waiting_requests(
    db: Database, workspace_id: int, *, limit: int
) -> tuple[list[ReviewRequest], int]:
    """Return the newest waiting requests (at most `limit`) and how many wait in all."""
    with db.read() as session:
        rows = list_requests(session, workspace_id, WAITING, limit=limit).rows
        total = counts(session, workspace_id).queued
    return rows, total


@dataclass(frozen=True)
class PeriodReport:
    """A period's stats and how many requests wait now."""

    stats: PeriodStats
    waiting: int


def period_report(
    db: Database, workspace_id: int, *, start: datetime, end: datetime | None
) -> PeriodReport:
    """Read the stats of the requests created in [start, end) and how many wait now."""
    with db.read() as session:
        stats = period_stats(
            session,
            workspace_id,
            start=start,
            end=end,
            segments=lambda body: sms_segments(body).segments,
        )
        waiting = counts(session, workspace_id).queued
    return PeriodReport(stats=stats, waiting=waiting)


# --- export --------------------------------------------------------------------------------


def count_matching(db: Database, workspace_id: int, f: HistoryFilter) -> int:
    """Count the requests an export of this filter will write (for progress)."""
    with db.read() as session:
        return count_requests(session, workspace_id, f)


def export_rows(
    db: Database, workspace_id: int, f: HistoryFilter, *, batch: int = BATCH
) -> Generator[ExportRow, None, None]:
    """Yield every request matching the filter as exported columns, newest first, in batches."""
    with db.read() as session:
        yield from iter_export_rows(session, workspace_id, f, batch=batch)
