"""The read path's detailed period (the digest and the stats chart): a period's stats with the
one before it, why requests failed, and a series per day. Re-exported by `history`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.templating import sms_segments
from store.db import Database
from store.queries import counts
from store.stats import DayTally, PeriodStats, failure_reasons, period_stats, series

__all__ = ["DayTally", "DetailedReport", "detailed_report"]


@dataclass(frozen=True)
class DetailedReport:
    """A period's stats with the one before it, why requests failed, and a series per day."""

    stats: PeriodStats
    previous: PeriodStats
    failures: list[tuple[str, int]]  # the commonest reasons ("" none recorded), most first
    failed: int  # failed in all, the reasons not listed included
    series: list[DayTally]
    waiting: int


def detailed_report(
    db: Database,
    workspace_id: int,
    *,
    start: datetime,
    end: datetime,
    previous_start: datetime,
    buckets: Sequence[tuple[datetime, datetime]],
    reasons: int = 5,
) -> DetailedReport:
    """Read [start, end) and [previous_start, start), failures by reason and the series.

    Periods are cohorts, as in `/reviews stats`: the requests created in them, with what has
    happened to them since.
    """
    with db.read() as session:
        stats = period_stats(session, workspace_id, start=start, end=end, segments=_segments)
        previous = period_stats(
            session, workspace_id, start=previous_start, end=start, segments=_segments
        )
        failures, failed = failure_reasons(
            session, workspace_id, start=start, end=end, limit=reasons
        )
        points = series(session, workspace_id, list(buckets))
        waiting = counts(session, workspace_id).queued
    return DetailedReport(stats, previous, failures, failed, points, waiting)


def _segments(body: str) -> int:
    return sms_segments(body).segments
