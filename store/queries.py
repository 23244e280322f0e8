"""Read-side queries: history filters with keyset pages, counts and stats."""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from store.models import Contact, Event, Message, ReviewRequest
from store.search import PROBE_LIMIT, PlanHints, Search, TextSearch, Unindexed

FAILED_STATUSES = ("failed", "undelivered")


@dataclass(frozen=True)
class HistoryFilter:
    """What the team wants to see of the history; every field narrows it."""

    statuses: frozenset[str] = frozenset()
    channel: str | None = None  # sms, whatsapp, email: the requests that went by it
    created_by: str | None = None
    review_type: str | None = None
    reference: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    sent_from: datetime | None = None
    sent_to: datetime | None = None  # exclusive
    text: str | None = None  # name, email or phone: prefix or substring
    # The text read as a phone number (bot.domain.contacts.phone_search, workspace region):
    phone: str | None = None  # the whole number in E.164
    phone_prefix: str | None = None  # the start of one ("06 10" in FR is "+33610")
    contact_id: int | None = None
    import_id: int | None = None  # the CSV import the requests came from


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Read a cursor made by `encode`.

        :raise ValueError: it was not made by `encode`.
        """
        padded = text + "=" * (-len(text) % 4)
        created, _, ident = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
        return cls(datetime.fromisoformat(created), int(ident))


@dataclass
class Page:
    rows: list[ReviewRequest]
    next: Cursor | None = None  # older rows
    prev: Cursor | None = None  # newer rows
    filters: HistoryFilter = field(default_factory=HistoryFilter)


# A request's channel column names every channel it went by ("sms+email" is both).
CHANNEL_VALUES: dict[str, tuple[str, ...]] = {
    "sms": ("sms", "sms+email"),
    "whatsapp": ("whatsapp",),
    "email": ("email", "sms+email"),
}
# A request is always created before it is sent; the margin only absorbs clock skew between
# workers. It bounds created_at from a sent date, so a sent range walks the created index.
SENT_AFTER_CREATED_SLACK = timedelta(days=1)


def conditions(
    workspace_id: int, f: HistoryFilter, *, hints: PlanHints | None = None
) -> list[ColumnElement[bool]]:
    """Translate a filter into SQL conditions on review_request.

    `hints` (from `plan_hints`) picks the faster SQLite plan for a page; any hints give the
    same rows.
    """
    hints = hints or PlanHints()
    r = ReviewRequest
    # Given the few ids a text matches, SQLite must read them by id: without statistics
    # (no ANALYZE) it would rather walk the workspace's whole created_at index.
    workspace: Any = col(r.workspace_id) if hints.text_ids is None else Unindexed(r.workspace_id)
    where: list[ColumnElement[bool]] = [
        workspace == workspace_id,
        col(r.deleted_at).is_(None),
    ]
    if f.statuses:
        where.append(col(r.status).in_(sorted(f.statuses)))
    if f.channel:
        where.append(col(r.channel).in_(CHANNEL_VALUES.get(f.channel, (f.channel,))))
    if f.created_by:
        where.append(col(r.created_by) == f.created_by)
    if f.review_type:
        where.append(col(r.review_type) == f.review_type)
    if f.reference:
        where.append(col(r.reference) == f.reference)
    if f.created_from:
        where.append(col(r.created_at) >= f.created_from)
    if f.created_to:
        where.append(col(r.created_at) < f.created_to)
    # With many sent in the range, "+sent_at" makes SQLite walk the created_at index (bounded
    # below) rather than sort the whole range.
    sent_at: Any = Unindexed(col(r.sent_at)) if hints.sent_many else col(r.sent_at)
    if f.sent_from:
        where.append(sent_at >= f.sent_from)
    if f.sent_to:
        where.append(sent_at < f.sent_to)
        if f.created_to is None or f.created_to > f.sent_to + SENT_AFTER_CREATED_SLACK:
            where.append(col(r.created_at) < f.sent_to + SENT_AFTER_CREATED_SLACK)
    if f.import_id is not None:
        where.append(col(r.import_id) == f.import_id)
    if f.contact_id is not None:
        where.append(col(r.contact_id) == f.contact_id)
    search = Search.of(f.text, f.phone, f.phone_prefix)
    if search is not None:
        where.append(TextSearch(search, hints))
    return where


# PostgreSQL's estimate for ILIKE '%...%' is good for a word, and often ten times too high for
# a longer text (a full name, an email, a phone), where it then walks the whole history.
PG_PROBE_MIN_TEXT = 8


def plan_hints(session: Session, workspace_id: int, f: HistoryFilter) -> PlanHints:
    """Look at how many rows the text (and on SQLite the sent range) match, to plan a page.

    Each look reads at most PROBE_LIMIT + 1 matches.
    """
    dialect = session.get_bind().dialect.name
    text_ids: tuple[int, ...] | None = None
    text_many = sent_many = False
    search = Search.of(f.text, f.phone, f.phone_prefix)
    candidates = search.candidates(dialect) if search is not None else None
    if dialect != "sqlite" and search is not None and len(search.text) < PG_PROBE_MIN_TEXT:
        candidates = None  # PostgreSQL estimates a single word well enough on its own
    if candidates is not None:
        ids = session.execute(candidates.limit(PROBE_LIMIT + 1)).scalars().all()
        text_many = len(ids) > PROBE_LIMIT
        text_ids = None if text_many else tuple(ids)
    if dialect == "sqlite" and (f.sent_from or f.sent_to):
        r = ReviewRequest
        probe = sa_select(col(r.id)).where(col(r.workspace_id) == workspace_id)
        if f.sent_from:
            probe = probe.where(col(r.sent_at) >= f.sent_from)
        if f.sent_to:
            probe = probe.where(col(r.sent_at) < f.sent_to)
        in_range = session.execute(
            sa_select(func.count()).select_from(probe.limit(PROBE_LIMIT + 1).subquery())
        ).scalar_one()
        sent_many = int(in_range) > PROBE_LIMIT
    return PlanHints(text_ids=text_ids, text_many=text_many, sent_many=sent_many)


def _older_than(c: Cursor) -> list[ColumnElement[bool]]:
    # The plain bound on created_at is what both databases turn into an index range.
    r = ReviewRequest
    return [
        col(r.created_at) <= c.created_at,
        or_(col(r.created_at) < c.created_at, col(r.id) < c.id),
    ]


def _newer_than(c: Cursor) -> list[ColumnElement[bool]]:
    r = ReviewRequest
    return [
        col(r.created_at) >= c.created_at,
        or_(col(r.created_at) > c.created_at, col(r.id) > c.id),
    ]


def page_statement(
    workspace_id: int,
    f: HistoryFilter,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    limit: int = 10,
    hints: PlanHints | None = None,
) -> SelectOfScalar[ReviewRequest]:
    """Build the query of one page: `limit + 1` rows, so the caller knows if more follow.

    Newest first after `after` (or from the top); oldest first after `before`.
    """
    r = ReviewRequest
    where = conditions(workspace_id, f, hints=hints)
    if after is not None:
        where += _older_than(after)
    elif before is not None:
        where += _newer_than(before)
    order = (
        (col(r.created_at).asc(), col(r.id).asc())
        if before is not None and after is None
        else (col(r.created_at).desc(), col(r.id).desc())
    )
    return select(r).where(*where).order_by(*order).limit(limit + 1)


def list_requests(
    session: Session,
    workspace_id: int,
    f: HistoryFilter,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    limit: int = 10,
) -> Page:
    """Return one page, newest first, keyed on (created_at, id) so deep pages stay fast."""
    newest_first = before is None or after is not None
    statement = page_statement(
        workspace_id,
        f,
        after=after,
        before=before,
        limit=limit,
        hints=plan_hints(session, workspace_id, f),
    )
    rows = list(session.exec(statement).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if not newest_first:
        rows.reverse()
    page = Page(rows=rows, filters=f)
    if rows:
        first, last = rows[0], rows[-1]
        assert first.id is not None and last.id is not None
        older_exist = more if newest_first else before is not None
        newer_exist = (after is not None) if newest_first else more
        if older_exist:
            page.next = Cursor(last.created_at, last.id)
        if newer_exist:
            page.prev = Cursor(first.created_at, first.id)
    return page


def iter_requests(
    session: Session, workspace_id: int, f: HistoryFilter, *, batch: int = 1000
) -> Iterator[ReviewRequest]:
    """Yield every matching request, newest first, in keyset batches (constant memory)."""
    cursor: Cursor | None = None
    while True:
        page = list_requests(session, workspace_id, f, after=cursor, limit=batch)
        yield from page.rows
        session.expunge_all()
        if page.next is None:
            return
        cursor = page.next


@dataclass(frozen=True)
class Counts:
    sent: int
    delivered: int
    opened: int
    clicked: int
    failed: int
    queued: int

    @property
    def click_rate(self) -> float:
        return self.clicked / self.sent if self.sent else 0.0


def counts(session: Session, workspace_id: int, f: HistoryFilter | None = None) -> Counts:
    """Count sent, delivered, opened, clicked, failed and waiting requests matching a filter."""
    r = ReviewRequest
    where = conditions(workspace_id, f or HistoryFilter())
    row = session.execute(
        sa_select(
            func.count(col(r.sent_at)),
            func.count(col(r.delivered_at)),
            func.count(col(r.opened_at)),
            func.count(col(r.clicked_at)),
            func.sum(func.cast(col(r.status).in_(FAILED_STATUSES), Integer())),
            func.sum(func.cast(col(r.status).in_(("queued", "paused")), Integer())),
        ).where(*where)
    ).one()
    sent, delivered, opened, clicked, failed, queued = row
    return Counts(
        sent=int(sent or 0),
        delivered=int(delivered or 0),
        opened=int(opened or 0),
        clicked=int(clicked or 0),
        failed=int(failed or 0),
        queued=int(queued or 0),
    )


def count_requests(session: Session, workspace_id: int, f: HistoryFilter) -> int:
    """Count the requests matching a filter."""
    return int(
        session.exec(
            select(func.count()).select_from(ReviewRequest).where(*conditions(workspace_id, f))
        ).one()
    )


def count_groups(
    session: Session, workspace_id: int, f: HistoryFilter, groups: Mapping[str, Collection[str]]
) -> dict[str, int]:
    """Count the requests matching a filter in each group of statuses, in one pass.

    The numbers `count_requests` gives with each group as the filter's statuses (the filter's
    own statuses are set aside), read with one query instead of one per group.
    """
    status = col(ReviewRequest.status)
    tallies = [func.count().filter(status.in_(sorted(group))) for group in groups.values()]
    where = conditions(workspace_id, replace(f, statuses=frozenset()))
    row = session.execute(sa_select(*tallies).select_from(ReviewRequest).where(*where)).one()
    return {key: int(n or 0) for key, n in zip(groups, row, strict=True)}


def message_statuses(
    session: Session, request_ids: Collection[int], statuses: Collection[str]
) -> list[tuple[int, str]]:
    """Return (request id, status) for the requests' messages that are in one of `statuses`."""
    if not request_ids:
        return []
    params = {"request_ids": list(request_ids), "statuses": sorted(statuses)}
    rows = session.execute(_MESSAGE_STATUSES, params).all()
    return [(request_id, status) for request_id, status in rows]


# Built once (every list page reads it): its cache key is not computed again for each page.
_MESSAGE_STATUSES = sa_select(col(Message.request_id), col(Message.status)).where(
    col(Message.request_id).in_(bindparam("request_ids", expanding=True)),
    col(Message.status).in_(bindparam("statuses", expanding=True)),
)


# --- one customer's history (the per-customer view) ------------------------------------------

MAX_CUSTOMER_REQUESTS = 200


@dataclass
class ContactHistory:
    """A contact's requests (newest first) with their messages and the customer's replies."""

    contact: Contact
    requests: list[ReviewRequest]
    messages: dict[int, list[Message]]  # request id -> its messages, oldest first
    replies: dict[int, list[Event]]  # request id -> the customer's replies, oldest first
    total_requests: int


def contact_history(
    session: Session, workspace_id: int, contact_id: int, *, limit: int = MAX_CUSTOMER_REQUESTS
) -> ContactHistory | None:
    """Read one contact of this workspace with its newest requests, their messages and replies."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != workspace_id:
        return None
    r = ReviewRequest
    mine = (
        col(r.workspace_id) == workspace_id,
        col(r.contact_id) == contact_id,
        col(r.deleted_at).is_(None),
    )
    total = int(session.exec(select(func.count()).select_from(r).where(*mine)).one())
    requests = list(
        session.exec(
            select(r).where(*mine).order_by(col(r.created_at).desc(), col(r.id).desc()).limit(limit)
        ).all()
    )
    ids = [x.id for x in requests if x.id is not None]
    messages: dict[int, list[Message]] = {i: [] for i in ids}
    replies: dict[int, list[Event]] = {i: [] for i in ids}
    if ids:
        for message in session.exec(
            select(Message).where(col(Message.request_id).in_(ids)).order_by(col(Message.id))
        ).all():
            messages[message.request_id].append(message)
        for event in session.exec(
            select(Event)
            .where(col(Event.request_id).in_(ids), Event.kind == "reply")
            .order_by(col(Event.id))
        ).all():
            assert event.request_id is not None
            replies[event.request_id].append(event)
    return ContactHistory(contact, requests, messages, replies, total)
