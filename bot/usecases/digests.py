"""The digest's use-cases: which workspaces' digests are due, taking a period once, its report.

Posting it is the scheduler's part (`scheduler/digest.py`); what it says, the Slack surface's.
A period is taken in its own transaction before anything is posted, so two scheduler processes
post it once between them; given back only when Slack could not be reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select

from bot.domain.digest import DigestPeriod, due_period, series_buckets, series_start
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_read import stored_policy
from bot.usecases.history_period import DetailedReport, detailed_report
from bot.usecases.services import UseCase
from store import digests
from store.integration_models import DigestPost
from store.models import Workspace

# A weekly period is taken within a week of its start: older rows can't match a due period.
RECENT = timedelta(days=15)


@dataclass(frozen=True)
class DueDigest:
    """A workspace whose digest of `period` is due now, and where it goes."""

    workspace_id: int
    period: DigestPeriod
    channel: str
    policy: WorkspacePolicy


class Digests(UseCase):
    """Find due digests, take their periods once, read their reports."""

    def due(self) -> list[DueDigest]:
        """Return the digests due now that no process has taken yet."""
        now = self.clock.now()
        found: list[DueDigest] = []
        with self.db.read() as session:
            workspaces = session.exec(select(Workspace.id, Workspace.policy)).all()
            taken = set(
                session.exec(
                    select(DigestPost.workspace_id, DigestPost.period).where(
                        col(DigestPost.claimed_at) >= now - RECENT
                    )
                ).all()
            )
        for workspace_id, stored in workspaces:
            policy = stored_policy(dict(stored))
            period = due_period(
                now, frequency=policy.digest, at=policy.digest_time, timezone=policy.timezone
            )
            channel = policy.digest_channel or policy.notify_channel
            if period is None or not channel or workspace_id is None:
                continue
            if (workspace_id, period.key) not in taken:
                found.append(DueDigest(workspace_id, period, channel, policy))
        return found

    def take(self, workspace_id: int, period: DigestPeriod) -> bool:
        """Take a period's digest for this process; False when another process took it."""
        with self.db.write() as session:
            return digests.take(session, workspace_id, period.key, self.clock.now())

    def posted(
        self, workspace_id: int, period: DigestPeriod, *, channel: str, file_id: str
    ) -> None:
        """Note that a digest reached its channel."""
        with self.db.write() as session:
            digests.posted(
                session,
                workspace_id,
                period.key,
                now=self.clock.now(),
                channel=channel,
                file_id=file_id,
            )

    def release(self, workspace_id: int, period: DigestPeriod) -> None:
        """Give a period back: Slack could not be reached, a later run posts it."""
        with self.db.write() as session:
            digests.release(session, workspace_id, period.key)

    def report(self, workspace_id: int, period: DigestPeriod, timezone: str) -> DetailedReport:
        """Read the period's report, its series reaching back at least a week."""
        buckets = series_buckets(series_start(period, timezone), period.end, timezone=timezone)
        return detailed_report(
            self.db,
            workspace_id,
            start=period.start,
            end=period.end,
            previous_start=period.previous_start,
            buckets=[(b.start, b.end) for b in buckets],
        )
