"""The webhook inbox: a verified provider report is stored at once and applied after the answer.

The route only inserts a small row (`store_twilio_status`) and answers 200, so a burst of
callbacks never waits on the work of applying them (folding, thread replies, alerts) nor on a
busy database's locks beyond one insert. Appliers (`apply_batch`) take rows in arrival order
under a lease, apply each through the same feedback path as before (`reports.py` de-duplicates
and never moves a status backwards, so applying a row twice after a crash changes nothing), and
stamp them applied. A process that died after answering 200 leaves its rows unleased or with a
lease that runs out: the next applier takes them. Several PostgreSQL processes may apply at once
(the claim skips rows another holds); on SQLite the claim's write lock serialises them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_, update
from sqlmodel import col, select

from bot.usecases.feedback import Feedback
from store.inbox import count_unapplied
from store.models import WebhookInbox

log = logging.getLogger(__name__)

TWILIO_STATUS = "twilio_status"
# Longer than applying a batch ever takes: a live applier never has its rows taken from it.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8  # then the row is set aside as "error" (logged), not retried for ever
KEEP_APPLIED = timedelta(days=7)  # applied rows are evidence for a week, then deleted
# What the route may store: these fields only, each cut to this length (Twilio's are shorter).
FIELD_LIMITS = {"sid": 64, "to": 64, "status": 32, "error_code": 16, "token": 128}
ERROR = "error"
# Stored fields that name the customer: dropped from a row once it is applied.
PERSONAL = frozenset({"to"})


def bounded(fields: dict[str, str | None]) -> dict[str, str | None]:
    """Keep the known fields of a report, each cut to its limit: a stored row is small."""
    kept: dict[str, str | None] = {}
    for name, limit in FIELD_LIMITS.items():
        value = fields.get(name)
        kept[name] = None if value is None else str(value)[:limit]
    return kept


def retry_delay(attempts: int) -> timedelta:
    """Wait 30 s, 1 min, 2 min ... (at most an hour) before trying a failing row again."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class Inbox:
    """Store verified reports and apply them later, in order, each once in effect."""

    def __init__(
        self,
        feedback: Feedback,
        *,
        batch_size: int = 100,
        applied: Callable[[str, float], None] | None = None,
    ) -> None:
        self.feedback = feedback
        # Told each applied report's source and its wait, received to applied (a metric).
        self.applied = applied
        self.db = feedback.db
        self.clock = feedback.clock
        self.batch_size = batch_size
        self._appliers: dict[str, Callable[[dict[str, Any]], str]] = {
            TWILIO_STATUS: self._twilio_status
        }

    def store_twilio_status(
        self,
        *,
        sid: str,
        to: str,
        status: str,
        error_code: str | None,
        idempotency_token: str | None,
    ) -> int:
        """Store one verified Twilio status callback (Twilio's words); return its row id."""
        payload = bounded(
            {
                "sid": sid,
                "to": to,
                "status": status,
                "error_code": error_code,
                "token": idempotency_token,
            }
        )
        with self.db.write() as session:
            row = WebhookInbox(source=TWILIO_STATUS, payload=payload, received_at=self.clock.now())
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def apply_batch(
        self,
        should_stop: Callable[[], bool] = lambda: False,
        *,
        limit: int | None = None,
        older_than: timedelta | None = None,
    ) -> int:
        """Take up to a batch of stored reports, oldest first, and apply them; return how many.

        `older_than` leaves the newer reports to the applier of the process that stored them.
        """
        received_before = self.clock.now() - older_than if older_than is not None else None
        claimed = self._claim(limit or self.batch_size, received_before)
        results: dict[int, str] = {}
        failed: dict[int, int] = {}
        for row_id, source, payload, attempts, _received in claimed:
            if should_stop():
                break  # the rest is given back below
            try:
                results[row_id] = self._appliers[source](payload)
            except Exception:
                log.exception("webhook inbox row %s (%s) could not be applied", row_id, source)
                failed[row_id] = attempts + 1
        released = [r for r, *_ in claimed if r not in results and r not in failed]
        payloads = {row[0]: row[2] for row in claimed if row[0] in results}
        self._settle(results, failed, released, payloads)
        if self.applied is not None:
            now = self.clock.now()
            for row_id, source, _payload, _attempts, received in claimed:
                if row_id in results:
                    self.applied(source, max((now - received).total_seconds(), 0.0))
        return len(results)

    def apply_pending(self, max_batches: int = 1000, older_than: timedelta | None = None) -> int:
        """Apply batches until none is left to take (the sweep job, tests, the CLI)."""
        total = 0
        for _ in range(max_batches):
            applied = self.apply_batch(older_than=older_than)
            total += applied
            if not applied:
                break
        return total

    def pending(self) -> int:
        """Count the stored reports not applied yet."""
        with self.db.read() as session:
            return count_unapplied(session)

    def purge(self, keep: timedelta = KEEP_APPLIED, limit: int = 5000) -> int:
        """Delete up to `limit` rows applied longer ago than `keep`; return how many."""
        before = self.clock.now() - keep
        old = (
            select(WebhookInbox.id)
            .where(col(WebhookInbox.applied_at) < before)
            .order_by(col(WebhookInbox.id))
            .limit(limit)
        )
        # Looked up first without the write lock: most sweeps find nothing to delete.
        with self.db.read() as session:
            ids = list(session.exec(old).all())
        if ids:
            with self.db.write() as session:
                session.exec(delete(WebhookInbox).where(col(WebhookInbox.id).in_(ids)))
        return len(ids)

    # --- the claim and the settling -------------------------------------------------------

    def _claim(
        self, limit: int | None = None, received_before: datetime | None = None
    ) -> list[tuple[int, str, dict[str, Any], int, datetime]]:
        now = self.clock.now()
        query = (
            select(WebhookInbox)
            .where(
                col(WebhookInbox.applied_at).is_(None),
                or_(col(WebhookInbox.lease_until).is_(None), col(WebhookInbox.lease_until) <= now),
            )
            .order_by(col(WebhookInbox.id))
            .limit(limit or self.batch_size)
            # PostgreSQL: rows another applier is claiming right now are skipped, not waited
            # for; SQLite: BEGIN IMMEDIATE already makes claims one at a time.
            .with_for_update(skip_locked=True)
        )
        if received_before is not None:
            query = query.where(col(WebhookInbox.received_at) <= received_before)
        with self.db.write() as session:
            rows = session.exec(query).all()
            ids = [row.id for row in rows if row.id is not None]
            if ids:
                session.exec(
                    update(WebhookInbox)
                    .where(col(WebhookInbox.id).in_(ids))
                    .values(lease_until=now + LEASE)
                )
            return [
                (r.id, r.source, dict(r.payload), r.attempts, r.received_at) for r in rows if r.id
            ]

    def _settle(
        self,
        results: dict[int, str],
        failed: dict[int, int],
        released: list[int],
        payloads: dict[int, dict[str, Any]],
    ) -> None:
        if not (results or failed or released):
            return
        now = self.clock.now()
        # An applied row is kept a week as evidence, without the customer's number: an erased
        # customer's number must not outlive the erasure here (the sid still names the message).
        applied = [
            {
                "row_id": row_id,
                "row_result": result,
                "row_payload": {k: v for k, v in payloads[row_id].items() if k not in PERSONAL},
            }
            for row_id, result in results.items()
        ]
        with self.db.write() as session:
            if applied:
                session.connection().execute(_APPLIED.values(applied_at=now), applied)
            if released:
                session.exec(_set(released, lease_until=None))
            for row_id, attempts in failed.items():
                if attempts >= MAX_ATTEMPTS:
                    log.error("webhook inbox row %s set aside after %s attempts", row_id, attempts)
                    session.exec(_set([row_id], attempts=attempts, applied_at=now, result=ERROR))
                else:
                    until = now + retry_delay(attempts)
                    session.exec(_set([row_id], attempts=attempts, lease_until=until))

    # --- appliers by source ---------------------------------------------------------------

    def _twilio_status(self, payload: dict[str, Any]) -> str:
        applied = self.feedback.twilio_status(
            sid=payload.get("sid") or "",
            status=payload.get("status") or "",
            to=payload.get("to") or "",
            error_code=payload.get("error_code"),
            idempotency_token=payload.get("token"),
        )
        return applied.value


# One statement for a batch of applied rows, each with its own result and payload.
_APPLIED = (
    update(WebhookInbox)
    .where(col(WebhookInbox.id) == bindparam("row_id"))
    .values(result=bindparam("row_result"), payload=bindparam("row_payload"), lease_until=None)
)


def _set(ids: list[int], **values: Any) -> Any:
    return update(WebhookInbox).where(col(WebhookInbox.id).in_(ids)).values(**values)
