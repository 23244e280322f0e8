"""The Slack outbox job: post what handlers/outbox_writer.py queued, in order, paced, retried.

Rules:
- oldest row first; a request's rows go out in the order they were written, so a reply or an
  update waits for its root, and a row that failed for now holds back the rows behind it;
- about one message per second per channel (Slack's chat.postMessage limit); card updates
  (chat.update, another limit) are paced apart from posts, so they never take a post's turn;
  a run that comes a little early for a channel (the job's own jitter) still posts: without
  that slack, a 1 s pace checked by a 1 s job skipped every other run;
- 429: wait what Retry-After says; 5xx and connection errors: back off 2, 4, 8 ... s (at most
  5 min); any other Slack error is permanent (scheduler/slack_errors.py sorts them): the row
  is "dead" with the error, and rows that needed it (a reply or update after a dead root) die
  with it instead of waiting forever;
- a row is leased before Slack is called: its next_attempt_at moves past the call's timeout,
  and that new value is the lease's token. Every later move of the row (done, retry, dead) is
  an UPDATE guarded by id, "pending" and that token, checked by its row count, so a worker
  whose lease ran out (frozen, slow) changes nothing: the root's ts is stored in the same
  guarded transaction that marks the row done, and a stale worker never moves a thread.

What is guaranteed for a Slack post (root, reply, alert), whatever stops a worker
(kill -9, a freeze past LEASE, a 5xx, a timeout):
- a post is made at least once (a row is never settled without its post or a permanent
  Slack error);
- a post is made once in the usual case: a post row is marked "in doubt" in the very
  transaction that leases it, so whoever takes it next first looks for the earlier post by
  its metadata (scheduler/outbox_recovery.py) and adopts it. The look-up only runs for a row
  taken before and not finished: the happy path costs no conversations.history call;
- a worker that lost its lease and then hears Slack's answer keeps the post if the row's
  finisher adopted it, deletes it (chat.delete) if the row was finished with another post,
  and leaves it when the row is still pending (its next holder looks for it first). The one
  duplicate left is a double stall: a stale worker's post reaching Slack after the next
  holder looked and before it finished. Without the history scopes the look-up is skipped:
  at least once.
Edits (chat.update) are repeatable and never looked for.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot import tracing
from bot.clock import Clock
from bot.metrics import Metrics
from bot.usecases import event_log
from scheduler.jobs import Scheduler
from scheduler.outbox_recovery import find_earlier_post, marked, settle_lost_post
from scheduler.outbox_rows import DEAD, DONE, EDITS, PENDING, post_args
from scheduler.slack_errors import Failure, backoff_seconds, classify
from store.db import Database
from store.models import ReviewRequest, SlackOutbox
from store.outbox_settle import settle

log = logging.getLogger(__name__)

# Posted messages about a request that its deletion must erase (the card is redrawn instead).
ERASABLE = ("reply", "alert")

OUTBOX_JOB = "slack_outbox"
OUTBOX_INTERVAL_SECONDS = 1.0
# How early a run may post to a channel: the job's start jitter, well under the pace itself.
PACE_SLACK_FRACTION = 0.25
# Longer than WebClient's 30 s timeout: a leased row is never taken by another worker mid-call.
LEASE = timedelta(minutes=2)

NO_CLIENT = "no Slack token for this workspace"


class _Finished:
    """A leased row settled without calling Slack."""


FINISHED = _Finished()


@dataclass(frozen=True)
class _Call:
    """What one leased row asks of Slack, read in the lease's transaction."""

    row_id: int
    kind: str
    workspace_id: int
    request_id: int | None
    args: dict[str, Any]
    lease_until: datetime  # the lease's token: the row's next_attempt_at while this worker has it
    in_doubt: bool = False  # an earlier take may have reached Slack (stopped, 5xx, timeout)
    number: int | None = None  # the request's #number, for the log and the trace


class OutboxSender:
    """Post due Slack outbox rows; `run_once` is the scheduler job."""

    def __init__(
        self,
        db: Database,
        client_for_workspace: Callable[[int], WebClient | None],
        clock: Clock,
        *,
        per_channel_interval: float = 1.0,
        batch_size: int = 500,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.client_for_workspace = client_for_workspace
        self.clock = clock
        self.per_channel_interval = timedelta(seconds=per_channel_interval)
        self.pace_slack = self.per_channel_interval * PACE_SLACK_FRACTION
        self.batch_size = batch_size
        self.metrics = metrics or Metrics()
        # pacing key -> when it may be called again (pacing and 429s), in this process.
        self._free_at: dict[str, datetime] = {}

    def run_once(self) -> int:
        """Process the due pending rows that may go now; return how many reached Slack."""
        now = self.clock.now()
        with self.db.read() as session:
            due = session.exec(
                select(
                    SlackOutbox.id, SlackOutbox.request_id, SlackOutbox.channel, SlackOutbox.kind
                )
                .where(SlackOutbox.status == PENDING, col(SlackOutbox.next_attempt_at) <= now)
                .order_by(col(SlackOutbox.id))
                .limit(self.batch_size)
            ).all()
            request_ids = {r for _, r, _, _ in due if r is not None}
            # Every pending row of these requests, due or not: a row waits for all before it.
            queues: dict[int, list[int]] = defaultdict(list)
            if request_ids:
                for row_id, request_id in session.exec(
                    select(SlackOutbox.id, SlackOutbox.request_id)
                    .where(
                        SlackOutbox.status == PENDING,
                        col(SlackOutbox.request_id).in_(request_ids),
                    )
                    .order_by(col(SlackOutbox.id))
                ).all():
                    assert row_id is not None and request_id is not None
                    queues[request_id].append(row_id)

        posted = 0
        for row_id, request_id, channel, kind in due:
            assert row_id is not None
            queue = queues.get(request_id) if request_id is not None else None
            if queue is not None and (not queue or queue[0] != row_id):
                continue  # an earlier row of this request has not gone out yet
            now = self.clock.now()
            key = pace_key(kind, channel)
            if key and self._free_at.get(key, now) - now > self.pace_slack:
                continue  # paced: this channel had a message less than a second ago
            finished, reached = self._process(row_id, key, now)
            posted += reached
            if finished and queue:
                queue.pop(0)
        return posted

    # --- one row --------------------------------------------------------------------------

    def _process(self, row_id: int, paced: str | None, now: datetime) -> tuple[bool, bool]:
        """Lease, post and record one row; return (finished, reached Slack)."""
        call = self._lease(row_id, now)
        if call is None:
            return False, False  # another worker has it: what follows it waits
        if isinstance(call, _Finished):
            return True, False  # settled without a call (already posted, superseded, dead)
        client = self.client_for_workspace(call.workspace_id)
        if client is None:
            self._retry(call, Failure("transient", NO_CLIENT), now, called=False)
            return False, False
        channel = paced or pace_key(call.kind, call.args["channel"])
        try:
            with tracing.span("reviewops.slack_post", request=call.number, kind=call.kind):
                data = self._call(client, call)
        except Exception as exc:
            failure = classify(exc)
            self.metrics.slack_posts.labels(call.kind, failure.kind).inc()
            if failure.kind == "transient" and not isinstance(exc, SlackApiError | OSError):
                log.exception("slack outbox row %s: unexpected error", row_id)
            self._free_at[channel] = now + max(
                self.per_channel_interval, timedelta(seconds=failure.retry_after)
            )
            if failure.kind == "permanent":
                self._dead(call, failure.error, now)
                return True, False
            self._retry(call, failure, now)
            return False, False
        self._free_at[channel] = now + self.per_channel_interval
        self.metrics.slack_posts.labels(call.kind, "ok").inc()
        if not self._done(call, data, now):
            settle_lost_post(self.db, client, call.row_id, call.kind, _posted(call, data))
            return False, True  # the row's new holder (or finisher) decides what follows
        return True, True

    def _call(self, client: WebClient, call: _Call) -> dict[str, Any]:
        """Make the row's Web API call, unless an earlier attempt's post is found in Slack."""
        if call.kind in EDITS:
            response = client.chat_update(**call.args)
        else:
            found = find_earlier_post(client, call.args, call.row_id) if call.in_doubt else None
            if found is not None:
                log.info("slack outbox row %s: already in Slack, not posted again", call.row_id)
                return found
            response = client.chat_postMessage(**marked(call.args, call.row_id))
        return response.data if isinstance(response.data, dict) else {}

    def _lease(self, row_id: int, now: datetime) -> _Call | _Finished | None:
        """Take the row for this worker and read what to send.

        Return FINISHED when the row was settled without a call, None when another worker
        has it (or it is no longer due).
        """
        lease_until = now + LEASE
        with self.db.write() as session:
            taken = session.exec(
                update(SlackOutbox)
                .where(
                    col(SlackOutbox.id) == row_id,
                    col(SlackOutbox.status) == PENDING,
                    col(SlackOutbox.next_attempt_at) <= now,
                )
                .values(next_attempt_at=lease_until)
            )
            if taken.rowcount != 1:
                return None
            row = session.get(SlackOutbox, row_id)
            assert row is not None and row.channel is not None
            request = session.get(ReviewRequest, row.request_id) if row.request_id else None
            args = post_args(session, row, request, now)
            if args is None:
                session.add(row)
                return FINISHED
            in_doubt = bool(row.payload.get("in_doubt"))
            if row.kind not in EDITS and not in_doubt:
                # Marked with the lease, not after a failure: a worker killed or frozen after
                # Slack stored its post never gets to say so; whoever takes the row next must
                # look for that post before posting.
                row.payload = {**row.payload, "in_doubt": True}
                session.add(row)
            number = request.number if request is not None else None
            return _Call(
                row_id,
                row.kind,
                row.workspace_id,
                row.request_id,
                args,
                lease_until,
                in_doubt,
                number,
            )

    def _done(self, call: _Call, data: dict[str, Any], now: datetime) -> bool:
        """Mark the row done with what Slack answered; False if this worker lost its lease."""
        with self.db.write() as session:
            row = _held(session, call)
            if row is None:
                return False
            settle(row, DONE, now)
            row.attempts += 1
            if call.kind in ERASABLE and data.get("ts"):
                # Remembered so that deleting the request can erase this message too.
                row.payload = {**row.payload, "posted": _posted(call, data)}
            session.add(row)
            if call.kind == "root" and call.request_id is not None:
                request = session.get(ReviewRequest, call.request_id)
                if request is not None:
                    # Same transaction as "done": the card is never posted twice.
                    request.slack_channel = data.get("channel") or call.args["channel"]
                    request.slack_ts = data.get("ts")
                    session.add(request)
        return True

    def _retry(self, call: _Call, failure: Failure, now: datetime, *, called: bool = True) -> None:
        with self.db.write() as session:
            row = _held(session, call)
            if row is None:
                log.info("slack outbox row %s: lease lost, its new holder retries", call.row_id)
                return
            if failure.kind == "ratelimited":
                # Slack asked us to wait; that is not a failed attempt.
                delay = failure.retry_after
            else:
                row.attempts += 1
                delay = backoff_seconds(row.attempts)
            if call.kind not in EDITS and (failure.kind == "ratelimited" or not called):
                # This take stored nothing (a 429, no call): only an earlier take's doubt
                # stays. After a 5xx or a timeout Slack may hold the post: the row stays in doubt.
                row.payload = {**row.payload, "in_doubt": call.in_doubt}
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.last_error = failure.error[:500]
            session.add(row)
        about = f" about #{call.number}" if call.number is not None else ""
        log.info(
            "Slack %s%s retried: %s (%s), next try in %ss",
            call.kind,
            about,
            failure.kind,
            failure.error,
            delay,
            extra=event_log.fields(
                "slack.retry",
                request=call.number,
                kind=call.kind,
                outbox_row=call.row_id,
                reason=failure.error[:200],
                retry_in_seconds=delay,
            ),
        )

    def _dead(self, call: _Call, error: str, now: datetime) -> None:
        with self.db.write() as session:
            row = _held(session, call)
            if row is None:
                log.info("slack outbox row %s: lease lost, its new holder decides", call.row_id)
                return
            row.attempts += 1
            settle(row, DEAD, now, error)
            session.add(row)
        log.warning(
            "Slack %s (outbox row %s) given up: %s",
            call.kind,
            call.row_id,
            error,
            extra=event_log.fields(
                "slack.dead", request=call.number, kind=call.kind, outbox_row=call.row_id
            ),
        )


def pace_key(kind: str, channel: str | None) -> str:
    """Name what a row's call is paced by: its channel's posts, or its channel's edits."""
    if not channel:
        return ""
    return f"{channel}:edit" if kind in EDITS else channel


def register(scheduler: Scheduler, outbox_sender: OutboxSender) -> None:
    """Run the outbox every second."""
    scheduler.add(OUTBOX_JOB, outbox_sender.run_once, OUTBOX_INTERVAL_SECONDS)


def _held(session: Session, call: _Call) -> SlackOutbox | None:
    """Return the row if this worker still holds its lease, locked till the commit; else None.

    The guarded UPDATE (id, "pending", the lease's token) is the fence: a worker frozen past
    LEASE finds the token moved by the next holder (or the row settled) and changes nothing.
    """
    held = session.exec(
        update(SlackOutbox)
        .where(
            col(SlackOutbox.id) == call.row_id,
            col(SlackOutbox.status) == PENDING,
            col(SlackOutbox.next_attempt_at) == call.lease_until,
        )
        .values(next_attempt_at=call.lease_until)
    )
    if held.rowcount != 1:
        return None
    return session.get(SlackOutbox, call.row_id)


def _posted(call: _Call, data: dict[str, Any]) -> dict[str, Any]:
    return {"channel": data.get("channel") or call.args["channel"], "ts": data.get("ts")}
