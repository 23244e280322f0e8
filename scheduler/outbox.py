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
- a row is leased (its next_attempt_at moved past the call's timeout) before Slack is called,
  so two workers never post the same row, and the root's ts is stored in the same
  transaction that marks it done;
- a post whose answer was a 5xx or a timeout may be in Slack: before posting it again, the
  outbox looks for it by its metadata (scheduler/outbox_recovery.py) and adopts it if found.
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
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.metrics import Metrics
from scheduler.jobs import Scheduler
from scheduler.outbox_recovery import find_earlier_post, marked
from scheduler.slack_errors import Failure, backoff_seconds, classify
from store.db import Database
from store.models import ReviewRequest, SlackOutbox

log = logging.getLogger(__name__)

# Posted messages about a request that its deletion must erase (the card is redrawn instead).
ERASABLE = ("reply", "alert")

OUTBOX_JOB = "slack_outbox"
OUTBOX_INTERVAL_SECONDS = 1.0
# How early a run may post to a channel: the job's start jitter, well under the pace itself.
PACE_SLACK_FRACTION = 0.25
# Longer than WebClient's 30 s timeout: a leased row is never taken by another worker mid-call.
LEASE = timedelta(minutes=2)
PENDING, DONE, DEAD = "pending", "done", "dead"
EDITS = ("update", "erase")  # chat.update; every other kind is a chat.postMessage

NO_CLIENT = "no Slack token for this workspace"
ROOT_LOST = "the request's card was never posted, so its thread doesn't exist"


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
    in_doubt: bool = False  # an earlier attempt may have reached Slack (5xx, timeout)


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
            self._retry(call, Failure("transient", NO_CLIENT), now)
            return False, False
        channel = paced or pace_key(call.kind, call.args["channel"])
        try:
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
                self._dead(call.row_id, failure.error, now)
                return True, False
            self._retry(call, failure, now)
            return False, False
        self._free_at[channel] = now + self.per_channel_interval
        self.metrics.slack_posts.labels(call.kind, "ok").inc()
        self._done(call, data, now)
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
        with self.db.write() as session:
            taken = session.exec(
                update(SlackOutbox)
                .where(
                    col(SlackOutbox.id) == row_id,
                    col(SlackOutbox.status) == PENDING,
                    col(SlackOutbox.next_attempt_at) <= now,
                )
                .values(next_attempt_at=now + LEASE)
            )
            if taken.rowcount != 1:
                return None
            row = session.get(SlackOutbox, row_id)
            assert row is not None and row.channel is not None
            request = session.get(ReviewRequest, row.request_id) if row.request_id else None
            args = _post_args(session, row, request, now)
            if args is None:
                session.add(row)
                return FINISHED
            in_doubt = bool(row.payload.get("in_doubt"))
            return _Call(row_id, row.kind, row.workspace_id, row.request_id, args, in_doubt)

    def _done(self, call: _Call, data: dict[str, Any], now: datetime) -> None:
        with self.db.write() as session:
            row = session.get(SlackOutbox, call.row_id)
            assert row is not None
            _finish(row, now)
            row.attempts += 1
            if call.kind in ERASABLE and data.get("ts"):
                # Remembered so that deleting the request can erase this message too.
                posted = {"channel": data.get("channel") or call.args["channel"], "ts": data["ts"]}
                row.payload = {**row.payload, "posted": posted}
            session.add(row)
            if call.kind == "root" and call.request_id is not None:
                request = session.get(ReviewRequest, call.request_id)
                if request is not None:
                    # Same transaction as "done": the card is never posted twice.
                    request.slack_channel = data.get("channel") or call.args["channel"]
                    request.slack_ts = data.get("ts")
                    session.add(request)

    def _retry(self, call: _Call, failure: Failure, now: datetime) -> None:
        with self.db.write() as session:
            row = session.get(SlackOutbox, call.row_id)
            assert row is not None
            if failure.kind == "ratelimited":
                # Slack asked us to wait; that is not a failed attempt.
                delay = failure.retry_after
            else:
                row.attempts += 1
                delay = backoff_seconds(row.attempts)
                if call.kind not in EDITS:
                    # A 5xx or a timeout can come after Slack stored the post: look first.
                    row.payload = {**row.payload, "in_doubt": True}
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.last_error = failure.error[:500]
            session.add(row)
        log.info(
            "slack outbox row %s: %s (%s), next try in %ss",
            call.row_id,
            failure.kind,
            failure.error,
            delay,
        )

    def _dead(self, row_id: int, error: str, now: datetime) -> None:
        with self.db.write() as session:
            row = session.get(SlackOutbox, row_id)
            assert row is not None
            row.attempts += 1
            _finish(row, now, status=DEAD, error=error)
            session.add(row)
        log.warning("slack outbox row %s dead: %s", row_id, error)


def pace_key(kind: str, channel: str | None) -> str:
    """Name what a row's call is paced by: its channel's posts, or its channel's edits."""
    if not channel:
        return ""
    return f"{channel}:edit" if kind in EDITS else channel


def thread_link(channel: str, ts: str) -> str:
    """Return a link to a message, in the form of Slack's permalinks."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def register(scheduler: Scheduler, outbox_sender: OutboxSender) -> None:
    """Run the outbox every second."""
    scheduler.add(OUTBOX_JOB, outbox_sender.run_once, OUTBOX_INTERVAL_SECONDS)


def _finish(
    row: SlackOutbox, now: datetime, *, status: str = DONE, error: str | None = None
) -> None:
    row.status = status
    row.done_at = now
    row.next_attempt_at = now
    if error is not None:
        row.last_error = error[:500]


def _superseded(session: Any, row: SlackOutbox) -> bool:
    later = session.exec(
        select(SlackOutbox.id).where(
            SlackOutbox.request_id == row.request_id,
            SlackOutbox.kind == "update",
            SlackOutbox.status == PENDING,
            col(SlackOutbox.id) > row.id,
        )
    ).first()
    return later is not None


def _post_args(
    session: Session, row: SlackOutbox, request: ReviewRequest | None, now: datetime
) -> dict[str, Any] | None:
    """Return the Web API arguments that post a row; None when the row was settled without one."""
    payload = row.payload
    args: dict[str, Any] = {"channel": row.channel, "text": payload.get("text", "")}
    if payload.get("blocks"):
        args["blocks"] = payload["blocks"]

    if row.kind == "root":
        if request is not None and request.slack_ts:
            _finish(row, now)  # already posted: post a card only once
            return None
        args.update(unfurl_links=False, unfurl_media=False)
    elif row.kind in ("reply", "update"):
        if request is None or not request.slack_ts or not request.slack_channel:
            _finish(row, now, status=DEAD, error=ROOT_LOST)
            log.warning("slack outbox row %s dead: %s", row.id, ROOT_LOST)
            return None
        if row.kind == "update" and _superseded(session, row):
            _finish(row, now)  # a later update draws the card as it is now
            return None
        args["channel"] = request.slack_channel
        if row.kind == "reply":
            args["thread_ts"] = request.slack_ts
            if payload.get("reply_broadcast"):
                args["reply_broadcast"] = True
            args.update(unfurl_links=False, unfurl_media=False)
        else:
            args["ts"] = request.slack_ts
    elif row.kind == "erase":
        args.update(ts=payload["ts"], blocks=[])
    elif row.kind == "alert":
        if request is not None and request.slack_ts and request.slack_channel:
            link = thread_link(request.slack_channel, request.slack_ts)
            label = f"Open #{request.number}'s thread"
            args["text"] = f"{args['text']} <{link}|{label}>"
            args["blocks"] = [
                *args.get("blocks", []),
                ContextBlock(elements=[MarkdownTextObject(text=f"<{link}|{label}>")]).to_dict(),
            ]
        args.update(unfurl_links=False, unfurl_media=False)
    return args
