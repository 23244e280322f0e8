"""Prometheus metrics of one process: sends, provider callbacks, Slack posts, and what waits.

Each app gets its own registry (no module-level globals), so tests and several apps in one
process never share counters. The queue gauges are read from the database at scrape time:
they say the same in every process of a scaled-out deployment.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import select

from bot.clock import Clock, SystemClock
from bot.domain.status import Status
from bot.health import lags
from store import event_outbox
from store import pacing as pace_store
from store.db import Database
from store.inbox import count_unapplied
from store.models import Message, SlackOutbox

# Message statuses an operator watches: waiting, in flight, or in doubt.
WATCHED = (Status.QUEUED, Status.PAUSED, Status.CLAIMED, Status.SENDING, Status.UNKNOWN)


class QueueCollector(Collector):
    """Count waiting messages by status, pending Slack posts and events and unapplied
    callbacks, and how long the oldest of each has waited, when scraped."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        messages = GaugeMetricFamily(
            "reviewops_messages",
            "Messages by status (waiting, in flight, unknown)",
            labels=["status"],
        )
        with self.db.read() as session:
            rows = session.exec(
                select(Message.status, func.count())
                .where(Message.status.in_([s.value for s in WATCHED]))  # type: ignore[attr-defined]
                .group_by(Message.status)
            ).all()
            pending = session.exec(
                select(func.count()).where(SlackOutbox.status == "pending")
            ).one()
            unapplied = count_unapplied(session)
            waited = lags(session, self.clock.now())
            waiting_events = event_outbox.count_pending(session)
        found = dict(rows)
        for status in WATCHED:
            messages.add_metric([status.value], found.get(status.value, 0))
        yield messages
        for name, doc, value in (
            ("reviewops_slack_outbox_pending", "Slack posts waiting to go out", pending),
            (
                "reviewops_event_outbox_pending",
                "Outbound events waiting to go out",
                waiting_events,
            ),
            (
                "reviewops_webhook_inbox_pending",
                "Provider status callbacks stored and answered, not applied yet",
                unapplied,
            ),
            (
                "reviewops_queue_oldest_due_seconds",
                "How long the oldest due message has waited past its time, unclaimed (0: none)",
                waited.oldest_due,
            ),
            (
                "reviewops_slack_outbox_lag_seconds",
                "How long the oldest Slack post still pending has waited (0: none)",
                waited.outbox,
            ),
            (
                "reviewops_webhook_apply_lag_seconds",
                "How long the oldest stored provider callback has waited to be applied (0: none)",
                waited.inbox,
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=value)


class SenderCollector(Collector):
    """Each provider sender's pace, when scraped: what holds a slot, its rate, its backlog."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queued = GaugeMetricFamily(
            "reviewops_sender_queued",
            "Messages waiting for their slot with a sender (SMS number, service, WhatsApp, SMTP)",
            labels=["sender"],
        )
        rate = GaugeMetricFamily(
            "reviewops_sender_rate",
            "A sender's pace now, in messages (SMS: segments) per second; lower after a 429",
            labels=["sender"],
        )
        lag = GaugeMetricFamily(
            "reviewops_sender_lag_seconds",
            "How far ahead a sender's next free slot is: what a new message would wait",
            labels=["sender"],
        )
        now = self.clock.now()
        with self.db.read() as session:
            rows = pace_store.paces(session)
        for pace, waiting in rows:
            queued.add_metric([pace.key], waiting)
            rate.add_metric([pace.key], pace.rate)
            lag.add_metric([pace.key], max((pace.next_free_at - now).total_seconds(), 0.0))
        yield queued
        yield rate
        yield lag


class Metrics:
    """The counters the dispatcher, the webhooks and the Slack outbox update.

    `registry` is what /metrics serves. In `serve` (several processes, bot/cli_run.py turns on
    `multiprocess`) the counters live in files shared by every process and `registry` reads
    them all, so a scrape of any web worker counts the scheduler process's sends too.
    """

    def __init__(self, db: Database | None = None, *, clock: Clock | None = None) -> None:
        shared = _multiprocess_dir is not None
        self.registry = CollectorRegistry()
        # Shared counters are read through the files, never from this process's registry.
        own = CollectorRegistry() if shared else self.registry
        if shared:
            MultiProcessCollector(self.registry, path=_multiprocess_dir)
        else:
            ProcessCollector(registry=self.registry)
        self.sends = Counter(
            "reviewops_sends",
            "Messages handed to a provider, by channel and outcome",
            ["channel", "outcome"],
            registry=own,
        )
        self.send_seconds = Histogram(
            "reviewops_send_seconds",
            "How long a provider took to take (or refuse) one message, by provider and channel",
            ["provider", "channel"],
            buckets=SEND_BUCKETS,
            registry=own,
        )
        self.webhook_apply_seconds = Histogram(
            "reviewops_webhook_apply_seconds",
            "How long a stored provider callback waited to be applied (received to applied)",
            ["source"],
            buckets=APPLY_BUCKETS,
            registry=own,
        )
        self.webhooks = Counter(
            "reviewops_webhooks",
            "Provider and shop webhooks received, by source and result (accepted, refused, failed)",
            ["source", "result"],
            registry=own,
        )
        self.slack_posts = Counter(
            "reviewops_slack_posts",
            "Slack outbox calls, by kind (root, reply, update, alert) and result",
            ["kind", "result"],
            registry=own,
        )
        self.events = Counter(
            "reviewops_events",
            "Outbound event webhooks, by result (delivered, retried, dropped, refused)",
            ["result"],
            registry=own,
        )
        if db is not None:
            clock = clock or SystemClock()
            self.registry.register(QueueCollector(db, clock))
            self.registry.register(SenderCollector(db, clock))
        self._send_series: dict[tuple[str, str, str], tuple[Histogram, Counter]] = {}

    def count_send(self, provider: str, channel: str, outcome: str, seconds: float) -> None:
        """Count one send by its outcome, and how long its provider took.

        Each series is looked up once (a few providers, channels and outcomes): `labels()`
        checks and locks on every call, which cost more than the count itself, per message.
        """
        series = self._send_series.get((provider, channel, outcome))
        if series is None:
            series = (
                self.send_seconds.labels(provider, channel),
                self.sends.labels(channel, outcome),
            )
            self._send_series[(provider, channel, outcome)] = series
        took, sends = series
        took.observe(seconds)
        sends.inc()


SEND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
APPLY_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)
_multiprocess_dir: str | None = None


def multiprocess(path: str) -> None:
    """Keep this process's and its children's counters in files under `path` (`serve`).

    Called before any app is built (the children build theirs after the fork); `path` must
    exist, be empty, and be PROMETHEUS_MULTIPROC_DIR in the environment (prometheus_client
    reads it there when a child first counts).
    """
    global _multiprocess_dir
    _multiprocess_dir = path
    values.ValueClass = values.MultiProcessValue()
