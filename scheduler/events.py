"""The events job: post what bot/usecases/events.py queued to each workspace's events URL.

Rules:
- in order per workspace: a workspace's oldest pending event goes first, and one that failed
  for now holds back the ones behind it (a receiver sees events in the order of the changes);
  workspaces do not wait for each other;
- signed as Standard Webhooks say: `webhook-id` (the event's id, the same on every attempt),
  `webhook-timestamp` (this attempt) and `webhook-signature` (v1, HMAC-SHA256 of
  "id.timestamp.body" with the workspace's `events_secret`), the secret opened only here when
  sealed (bot/usecases/setting_secrets.py): when no key opens it, the event is tried again
  later like a failed post;
- a 2xx answer delivers it; any other answer, a timeout or a connection error is tried again
  after bot.domain.events.retry_delay (exponential, with jitter); an event is dropped, and
  counted, after MAX_ATTEMPTS tries or once MAX_AGE old, and at once if the workspace turned
  its events off. Redirects are not followed and the answer's body is never read;
- workspaces are posted to side by side (up to PARALLEL_WORKSPACES at once), so a receiver
  that hangs until the timeout holds back its own events only;
- only to allowed addresses: the URL's host is resolved at each connection and the call
  refused unless every address is public (scheduler/events_http.py; EVENTS_ALLOW_PRIVATE
  lets development reach this machine). A refused event is dropped at once with the reason,
  logged and counted (`refused`), never retried;
- a row is leased before the call (its next_attempt_at moves past the call's timeouts: the
  lease's token); every later move of the row is guarded by that token, so a worker whose
  lease ran out changes nothing.

Delivery is at least once: a worker stopped (or a lease lost) after the receiver took the
event and before the row was settled posts it again, with the same `webhook-id`. Receivers
de-duplicate by that id.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests

from bot.clock import Clock
from bot.domain.events import given_up, retry_delay, sign
from bot.domain.policy_read import stored_policy
from bot.metrics import Metrics
from bot.usecases.setting_secrets import SettingSecrets
from scheduler.events_http import RefusedAddress, checked_session
from scheduler.jobs import Scheduler
from store import event_outbox as rows
from store.db import Database
from store.installations import TokenKeyError
from store.models import Workspace
from store.outbox_settle import settle

log = logging.getLogger(__name__)

EVENTS_JOB = "events"
EVENTS_INTERVAL_SECONDS = 2.0
CONNECT_TIMEOUT, READ_TIMEOUT = 3.0, 5.0
# Past the call's timeouts: a leased row is never taken by another worker mid-call.
LEASE = timedelta(minutes=1)
KEEP_SETTLED = timedelta(days=7)  # delivered and dropped rows, for an operator's questions
PURGE_EVERY = timedelta(hours=1)
EVENTS_OFF = "dropped: the workspace's events were turned off"
USER_AGENT = "reviewops-events/1"
PARALLEL_WORKSPACES = 8


@dataclass(frozen=True)
class _Delivery:
    """One leased row: what to post where, read in the lease's transaction."""

    row_id: int
    event_id: str
    url: str
    secret: str  # as stored (maybe sealed): opened to sign
    body: bytes
    token: datetime  # the lease: the row's next_attempt_at while this worker has it


class EventSender:
    """Post due outbound events; `run_once` is the scheduler job."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        metrics: Metrics | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        spread: Callable[[], float] = random.random,
        per_workspace: int = 100,
        parallel: int = PARALLEL_WORKSPACES,
        secrets: SettingSecrets | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.timeout = timeout
        self.spread = spread
        self.per_workspace = per_workspace
        self.parallel = max(parallel, 1)
        self.secrets = secrets or SettingSecrets.with_keys(())  # sealed with the tokens' keys
        # One HTTP session per posting thread (requests does not promise a shared one is safe).
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._pool: ThreadPoolExecutor | None = None
        self._purged_at: datetime | None = None
        self._stopping = threading.Event()

    def run_once(self) -> int:
        """Post the due events that may go now, in order per workspace; return how many landed.

        Each workspace gets at most `per_workspace` events a run, so a long backlog of one
        never holds back the others.
        """
        with self.db.read() as session:
            waiting = rows.waiting_workspaces(session)
        if len(waiting) > 1 and self.parallel > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="events")
            delivered = sum(self._pool.map(self._run_workspace, waiting))
        else:
            delivered = sum(self._run_workspace(w) for w in waiting)
        if not self._stopping.is_set():
            self._purge()
        return delivered

    def _run_workspace(self, workspace_id: int) -> int:
        """Post one workspace's due events in order; return how many landed."""
        delivered = 0
        for _ in range(self.per_workspace):
            if self._stopping.is_set():
                break  # the process is stopping: what is left waits for a worker
            with self.db.read() as session:
                first = rows.head(session, workspace_id)
            if first is None or first[1] > self.clock.now():
                break  # nothing left, or its oldest is backing off or leased: the rest waits
            outcome = self._process(first[0])
            delivered += outcome == rows.DONE
            if outcome not in (rows.DONE, rows.DROPPED):
                break
        return delivered

    @property
    def http(self) -> requests.Session:
        """This thread's HTTP session (made on first use)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = checked_session()
            self._sessions.append(session)
        return session

    def stop(self) -> None:
        """Take no more events (the process is stopping); the ones being posted are settled."""
        self._stopping.set()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for session in self._sessions:
            session.close()

    # --- one row ----------------------------------------------------------------------------

    def _process(self, row_id: int) -> str | None:
        """Lease, post and settle one row; return its status after, None if another has it."""
        lease = self._lease(row_id)
        if not isinstance(lease, _Delivery):
            return lease
        try:
            error = self._post(lease)
        except RefusedAddress as exc:
            return self._refuse(lease, str(exc))
        except TokenKeyError as exc:
            error = str(exc)  # names the setting, never its value; tried again later
        return self._settle(lease, error)

    def _lease(self, row_id: int) -> _Delivery | str | None:
        now = self.clock.now()
        with self.db.write() as session:
            row = rows.take(session, row_id, now, now + LEASE)
            if row is None:
                return None
            workspace = session.get(Workspace, row.workspace_id)
            policy = stored_policy(workspace.policy) if workspace is not None else None
            if policy is None or not (policy.events_url and policy.events_secret):
                reason = EVENTS_OFF
            elif given_up(row.attempts, now - row.created_at):
                reason = f"dropped: still not delivered after {row.attempts} tries"
            else:
                body = json.dumps(row.payload, separators=(",", ":")).encode()
                return _Delivery(
                    row_id, row.event_id, policy.events_url, policy.events_secret, body, now + LEASE
                )
            settle(row, rows.DROPPED, now, reason)
            session.add(row)
        self._dropped(row_id, reason)
        return rows.DROPPED

    def _post(self, delivery: _Delivery) -> str | None:
        """Post the event; return None when the receiver took it, else why not.

        :raise TokenKeyError: the secret is sealed and no configured key opens it.
        """
        stamp = int(self.clock.now().timestamp())
        secret = self.secrets.open(delivery.secret, "events_secret")
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, delivery.event_id, stamp, delivery.body),
        }
        try:
            # stream: the answer's body is never read (closed unread).
            with self.http.post(
                delivery.url,
                data=delivery.body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as answer:
                status = answer.status_code
        except requests.Timeout:
            return "no answer in time"
        except requests.RequestException as exc:
            return f"could not connect ({type(exc).__name__})"
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"HTTP {status} (redirects are not followed)"
        return f"HTTP {status}"

    def _settle(self, delivery: _Delivery, error: str | None) -> str | None:
        now = self.clock.now()
        with self.db.write() as session:
            row = rows.held(session, delivery.row_id, delivery.token)
            if row is None:
                # Its next holder posts it again (same webhook-id) or has settled it.
                log.info("event %s: lease lost, its new holder decides", delivery.event_id)
                return None
            row.attempts += 1
            if error is None:
                settle(row, rows.DONE, now)
            elif given_up(row.attempts, now - row.created_at):
                settle(row, rows.DROPPED, now, f"dropped after {row.attempts} tries: {error}")
            else:
                row.next_attempt_at = now + retry_delay(row.attempts, self.spread())
                row.last_error = error
            session.add(row)
            status, attempts, due = row.status, row.attempts, row.next_attempt_at
        host = urlsplit(delivery.url).hostname  # not the whole URL: it may carry a token
        if status == rows.DONE:
            self.metrics.events.labels("delivered").inc()
        elif status == rows.DROPPED:
            self._dropped(delivery.row_id, error or "")
        else:
            self.metrics.events.labels("retried").inc()
            log.info(
                "event %s to %s: %s (try %d), next at %s",
                delivery.event_id,
                host,
                error,
                attempts,
                due.isoformat(),
            )
        return status

    def _refuse(self, delivery: _Delivery, reason: str) -> str | None:
        """Drop an event whose URL leads to an address events may not reach: no retry."""
        with self.db.write() as session:
            row = rows.held(session, delivery.row_id, delivery.token)
            if row is None:
                return None
            row.attempts += 1
            settle(row, rows.DROPPED, self.clock.now(), f"dropped: refused, {reason}")
            session.add(row)
        self.metrics.events.labels("refused").inc()
        log.warning("event row %s dropped: refused, %s", delivery.row_id, reason)
        return rows.DROPPED

    def _dropped(self, row_id: int, reason: str) -> None:
        self.metrics.events.labels("dropped").inc()
        log.warning("event row %s %s", row_id, reason)

    def _purge(self) -> None:
        now = self.clock.now()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        with self.db.write() as session:
            rows.purge_settled(session, now - KEEP_SETTLED)
        self._purged_at = now


def register(scheduler: Scheduler, sender: EventSender) -> None:
    """Post outbound events every two seconds; stop taking them when the process stops."""
    scheduler.on_stop(sender.stop)
    scheduler.add(EVENTS_JOB, sender.run_once, EVENTS_INTERVAL_SECONDS)
