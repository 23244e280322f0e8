"""Outreach statistics over a period: totals, per channel, per sender, and SMS segments.

A period is a cohort: the requests created in it (the same rule as the list's from:/to:),
with what has happened to them since. So "sent" here and `/reviews list from:... to:...
status:sent` agree, and the SMS cost is the cost of those requests, reminders included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Integer, case, func, select
from sqlmodel import Session, col

from store.filter_sql import HistoryFilter, conditions
from store.models import Message, ReviewRequest
from store.queries import FAILED_STATUSES

SEGMENT_BATCH = 2000


@dataclass(frozen=True)
class Tally:
    """What happened to a set of requests."""

    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    failed: int = 0

    @property
    def click_rate(self) -> float:
        return self.clicked / self.sent if self.sent else 0.0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            sent=self.sent + other.sent,
            delivered=self.delivered + other.delivered,
            opened=self.opened + other.opened,
            clicked=self.clicked + other.clicked,
            failed=self.failed + other.failed,
        )


@dataclass(frozen=True)
class SenderTally:
    user_id: str
    name: str
    tally: Tally


@dataclass(frozen=True)
class PeriodStats:
    """A period's numbers; `by_sender` has the busiest senders first."""

    start: datetime
    end: datetime | None  # exclusive; None: up to now
    overall: Tally = Tally()
    by_channel: dict[str, Tally] = field(default_factory=dict)  # sms, whatsapp, email, sms+email
    by_sender: list[SenderTally] = field(default_factory=list)
    sms_sent: int = 0  # SMS messages handed to the provider
    sms_segments: int = 0

    def sms_cost(self, price_per_segment: Decimal) -> Decimal:
        """Estimate what the period's SMS cost at a price per segment."""
        return (Decimal(self.sms_segments) * price_per_segment).quantize(Decimal("0.01"))


def period_stats(
    session: Session,
    workspace_id: int,
    *,
    start: datetime,
    end: datetime | None,
    segments: Callable[[str], int],
) -> PeriodStats:
    """Count sent, delivered, opened, clicked and failed requests created in [start, end).

    Without `end`, the period runs to now (requests created this very instant included).

    `segments(body)` counts the SMS segments of a stored message body (the domain's rule,
    passed in so the store does not import it).
    """
    r = ReviewRequest
    where = conditions(workspace_id, HistoryFilter(created_from=start, created_to=end))
    groups = session.execute(
        select(
            col(r.channel),
            col(r.created_by),
            func.max(col(r.created_by_name)),
            func.count(col(r.sent_at)),
            func.count(col(r.delivered_at)),
            func.count(col(r.opened_at)),
            func.count(col(r.clicked_at)),
            func.sum(case((col(r.status).in_(FAILED_STATUSES), 1), else_=0).cast(Integer())),
        )
        .where(*where)
        .group_by(col(r.channel), col(r.created_by))
    ).all()
    overall = Tally()
    by_channel: dict[str, Tally] = {}
    senders: dict[str, tuple[str, Tally]] = {}
    for channel, user_id, name, sent, delivered, opened, clicked, failed in groups:
        tally = Tally(int(sent), int(delivered), int(opened), int(clicked), int(failed or 0))
        overall += tally
        by_channel[channel] = by_channel.get(channel, Tally()) + tally
        known_name, so_far = senders.get(user_id, ("", Tally()))
        senders[user_id] = (known_name or name or "", so_far + tally)
    by_sender = sorted(
        (SenderTally(user_id, name, tally) for user_id, (name, tally) in senders.items()),
        key=lambda s: (-s.tally.sent, s.name, s.user_id),
    )
    sms_sent, sms_segments = _sms_segments(session, where, segments)
    return PeriodStats(
        start=start,
        end=end,
        overall=overall,
        by_channel=dict(sorted(by_channel.items())),
        by_sender=by_sender,
        sms_sent=sms_sent,
        sms_segments=sms_segments,
    )


def _sms_segments(
    session: Session, where: list[ColumnElement[bool]], segments: Callable[[str], int]
) -> tuple[int, int]:
    """Count the sent SMS messages of the matching requests and their segments.

    The count stored when each SMS was sent is summed in SQL; only SMS sent before it was
    stored (migration 0009) are counted from their body, here.
    """
    m, r = Message, ReviewRequest
    sms_sent = (*where, col(m.channel) == "sms", col(m.sent_at).is_not(None))
    sent, stored = session.execute(
        select(
            func.count(col(m.id)),
            # At least one segment each, as below.
            func.coalesce(func.sum(case((col(m.segments) < 1, 1), else_=col(m.segments))), 0),
        )
        .join(r, col(r.id) == col(m.request_id))
        .where(*sms_sent)
    ).one()
    older = session.execute(
        select(col(m.body))
        .join(r, col(r.id) == col(m.request_id))
        .where(*sms_sent, col(m.segments).is_(None))
        .execution_options(yield_per=SEGMENT_BATCH)
    ).scalars()
    # A sent SMS costs at least one segment, even if its body was not kept.
    counted = sum(max(1, segments(body or "")) for body in older)
    return int(sent), int(stored) + counted


@dataclass(frozen=True)
class DayTally:
    """A point of a series: the requests created from `start` (UTC) to the next point."""

    start: datetime
    tally: Tally


def failure_reasons(
    session: Session, workspace_id: int, *, start: datetime, end: datetime, limit: int
) -> tuple[list[tuple[str, int]], int]:
    """Group the failed requests created in [start, end) by their last error, most first.

    Returns the `limit` commonest reasons ("" for none recorded) and how many failed in all.
    """
    r = ReviewRequest
    where = conditions(workspace_id, HistoryFilter(created_from=start, created_to=end))
    reason = col(r.last_error)  # grouped as stored; no reason (NULL) is a group of its own
    count = func.count(col(r.id))
    rows = session.execute(
        select(reason, count)
        .where(*where, col(r.status).in_(FAILED_STATUSES))
        .group_by(reason)
        .order_by(count.desc(), reason)
    ).all()
    total = sum(int(n) for _, n in rows)
    return [(str(text or ""), int(n)) for text, n in rows[:limit]], total


def series(
    session: Session, workspace_id: int, bounds: list[tuple[datetime, datetime]]
) -> list[DayTally]:
    """Count sent, delivered, opened, clicked and failed per bucket of creation time, in one query.

    `bounds` are consecutive [start, end) ranges; a bucket with nothing is counted as zeros.
    """
    if not bounds:
        return []
    r = ReviewRequest
    created = col(r.created_at)
    where = conditions(
        workspace_id, HistoryFilter(created_from=bounds[0][0], created_to=bounds[-1][1])
    )
    # Bucketed in a subquery: PostgreSQL would not see a parameterised CASE in GROUP BY as
    # the one in SELECT.
    rows_of = (
        select(
            case(*((created < end, i) for i, (_, end) in enumerate(bounds)), else_=-1).label("b"),
            col(r.sent_at).label("sent"),
            col(r.delivered_at).label("delivered"),
            col(r.opened_at).label("opened"),
            col(r.clicked_at).label("clicked"),
            case((col(r.status).in_(FAILED_STATUSES), 1), else_=0).label("failed"),
        )
        .where(*where)
        .subquery()
    )
    c = rows_of.c
    rows = session.execute(
        select(
            c.b,
            func.count(c.sent),
            func.count(c.delivered),
            func.count(c.opened),
            func.count(c.clicked),
            func.sum(c.failed),
        ).group_by(c.b)
    ).all()
    found = {
        int(i): Tally(int(s), int(d), int(o), int(k), int(f or 0)) for i, s, d, o, k, f in rows
    }
    return [DayTally(start, found.get(i, Tally())) for i, (start, _) in enumerate(bounds)]
