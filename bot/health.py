"""What /healthz reports: each dependency's check, and whether the process should get traffic.

Read from the database, so every process of a scaled-out deployment says the same about the
scheduler and the Slack outbox, whichever process runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from bot.domain.status import Status
from store import inbox as inbox_store
from store.db import Database
from store.models import Message, SlackOutbox

# A due message not claimed this long after its time: no dispatcher runs (every few seconds).
SCHEDULER_LATE = timedelta(minutes=5)
# A Slack post still waiting this long: past any Retry-After (Slack asks for a minute at most).
OUTBOX_LATE = timedelta(minutes=10)
# A status callback answered and not applied this long after: its appliers are stuck (the web
# process's thread applies at once, the sweep job within seconds).
INBOX_LATE = timedelta(minutes=5)


@dataclass
class Health:
    """Each check by name ({"ok": bool, ...}); failing is every check that is not ok."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failing(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check["ok"]]

    def as_json(self) -> dict[str, Any]:
        status = "failing" if self.failing else "ok"
        return {"status": status, "failing": self.failing, "checks": self.checks}


def check_health(db: Database, now: datetime) -> Health:
    """Check the database, the dispatch lag, the Slack outbox and the webhook inbox at `now`."""
    health = Health()
    try:
        with db.read() as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            health.checks["database"] = {"ok": True}
            due, pending, unapplied = (int(s) for s in lags(session, now))
    except SQLAlchemyError as exc:
        # The other checks read the database: without it they can say nothing.
        health.checks["database"] = {"ok": False, "error": type(exc).__name__}
        return health
    health.checks["scheduler"] = {
        "ok": due < SCHEDULER_LATE.total_seconds(),
        "oldest_due_seconds": due,
    }
    health.checks["slack_outbox"] = {
        "ok": pending < OUTBOX_LATE.total_seconds(),
        "oldest_pending_seconds": pending,
    }
    health.checks["webhook_inbox"] = {
        "ok": unapplied < INBOX_LATE.total_seconds(),
        "oldest_unapplied_seconds": unapplied,
    }
    return health


class Lags(NamedTuple):
    """How long the oldest of each waiting thing has waited, in seconds (0: none waits)."""

    oldest_due: float  # a queued message past its time, not yet claimed
    outbox: float  # a Slack post not yet posted
    inbox: float  # a provider callback stored, not yet applied


def lags(session: Session, now: datetime) -> Lags:
    """Read the three lags with one indexed query each (/healthz, /metrics, the heartbeat)."""
    return Lags(
        _oldest_seconds(_oldest_due(session, now), now),
        _oldest_seconds(_oldest_pending(session), now),
        _oldest_seconds(inbox_store.oldest_unapplied(session), now),
    )


def _oldest_due(session: Session, now: datetime) -> datetime | None:
    query = select(func.min(Message.due_at)).where(
        Message.status == Status.QUEUED.value, col(Message.due_at) <= now
    )
    return session.exec(query).one()


def _oldest_pending(session: Session) -> datetime | None:
    query = select(func.min(SlackOutbox.created_at)).where(SlackOutbox.status == "pending")
    return session.exec(query).one()


def _oldest_seconds(since: datetime | None, now: datetime) -> float:
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())
