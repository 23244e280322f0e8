"""Read-side queries: history filters with keyset pages, counts and stats."""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from store.filter_sql import (
    HistoryFilter,
    conditions,
    filter_params,
    unbound_conditions,
    where_of,
)
from store.models import Contact, Event, Message, ReviewRequest
from store.search import PROBE_LIMIT, PlanHints

FAILED_STATUSES = ("failed", "undelivered")


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
    search = f.search()
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


# A page's cursor, as parameters: the plain bound on created_at is what both databases turn
# into an index range.
_OLDER_THAN = (
    col(ReviewRequest.created_at) <= bindparam("cursor_at"),
    or_(
        col(ReviewRequest.created_at) < bindparam("cursor_at"),
        col(ReviewRequest.id) < bindparam("cursor_id"),
    ),
)
_NEWER_THAN = (
    col(ReviewRequest.created_at) >= bindparam("cursor_at"),
    or_(
        col(ReviewRequest.created_at) > bindparam("cursor_at"),
        col(ReviewRequest.id) > bindparam("cursor_id"),
    ),
)
_NEWEST_FIRST = (col(ReviewRequest.created_at).desc(), col(ReviewRequest.id).desc())
_OLDEST_FIRST = (col(ReviewRequest.created_at).asc(), col(ReviewRequest.id).asc())


def page_query(
    workspace_id: int,
    f: HistoryFilter,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    limit: int = 10,
    hints: PlanHints | None = None,
) -> tuple[SelectOfScalar[ReviewRequest], dict[str, Any]]:
    """Return the query of one page and its parameters: `limit + 1` rows, so the caller knows
    if more follow. Newest first after `after` (or from the top); oldest first after `before`.

    Without a text search the statement is built once per shape of filter and kept
    (`statement.params(params)` binds the values, to read it on its own).
    """
    hints = hints or PlanHints()
    params = filter_params(workspace_id, f)
    names = frozenset(params)  # the filter's shape, before the cursor's values join them
    search = f.search()
    going = "older" if after is not None else "newer" if before is not None else "top"
    cursor = after if after is not None else before
    if cursor is not None:
        params |= {"cursor_at": cursor.created_at, "cursor_id": cursor.id}
    if search is None:
        return _page_of(names, going, limit, hints.sent_many), params
    return _page(unbound_conditions(params, search, hints), going, limit), params


@lru_cache(maxsize=256)
def _page_of(
    names: frozenset[str], going: str, limit: int, sent_many: bool
) -> SelectOfScalar[ReviewRequest]:
    return _page(where_of(names, sent_many=sent_many), going, limit)


def _page(
    where: tuple[ColumnElement[bool], ...], going: str, limit: int
) -> SelectOfScalar[ReviewRequest]:
    bounds = {"older": _OLDER_THAN, "newer": _NEWER_THAN}.get(going, ())
    order = _OLDEST_FIRST if going == "newer" else _NEWEST_FIRST
    return select(ReviewRequest).where(*where, *bounds).order_by(*order).limit(limit + 1)


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
    statement, params = page_query(
        workspace_id,
        f,
        after=after,
        before=before,
        limit=limit,
        hints=plan_hints(session, workspace_id, f),
    )
    rows = list(session.exec(statement, params=params).all())
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
    unfiltered = replace(f, statuses=frozenset())
    params = filter_params(workspace_id, unfiltered)
    tallied = tuple(tuple(sorted(group)) for group in groups.values())
    search = unfiltered.search()
    if search is None:
        statement = _groups_of(frozenset(params), tallied)
    else:
        statement = _groups(unbound_conditions(params, search, PlanHints()), tallied)
    row = session.execute(statement, params).one()
    return {key: int(n or 0) for key, n in zip(groups, row, strict=True)}


@lru_cache(maxsize=64)
def _groups_of(names: frozenset[str], tallied: tuple[tuple[str, ...], ...]) -> Select:
    return _groups(where_of(names), tallied)


def _groups(where: tuple[ColumnElement[bool], ...], tallied: tuple[tuple[str, ...], ...]) -> Select:
    status = col(ReviewRequest.status)
    tallies = [func.count().filter(status.in_(group)) for group in tallied]
    return sa_select(*tallies).select_from(ReviewRequest).where(*where)


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
