"""Prometheus metrics of one process: sends, provider callbacks, Slack posts, and what waits.

Each app gets its own registry (no module-level globals), so tests and several apps in one
process never share counters. The queue gauges are read from the database at scrape time:
they say the same in every process of a scaled-out deployment.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import select

from bot.clock import Clock, SystemClock
from bot.domain.status import Status
from store import pacing as pace_store
from store.db import Database
from store.inbox import count_unapplied
from store.models import Message, SlackOutbox

# Message statuses an operator watches: waiting, in flight, or in doubt.
WATCHED = (Status.QUEUED, Status.PAUSED, Status.CLAIMED, Status.SENDING, Status.UNKNOWN)


class QueueCollector(Collector):
    """Count waiting messages by status, pending Slack posts and unapplied callbacks, when scraped."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        messages = GaugeMetricFamily(
            "reviewops_messages",
            "Messages by status (waiting, in flight, unknown)",
            labels=["status"],
        )
        outbox = GaugeMetricFamily(
            "reviewops_slack_outbox_pending", "Slack posts waiting to go out"
        )
        inbox = GaugeMetricFamily(
            "reviewops_webhook_inbox_pending",
            "Provider status callbacks stored and answered, not applied yet",
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
        found = dict(rows)
        for status in WATCHED:
            messages.add_metric([status.value], found.get(status.value, 0))
        outbox.add_metric([], pending)
        inbox.add_metric([], unapplied)
        yield messages
        yield outbox
        yield inbox


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
    """The counters the dispatcher, the webhooks and the Slack outbox update."""

    def __init__(self, db: Database | None = None, *, clock: Clock | None = None) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.sends = Counter(
            "reviewops_sends",
            "Messages handed to a provider, by channel and outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "reviewops_webhooks",
            "Provider callbacks received, by source and result (applied or refused)",
            ["source", "result"],
            registry=self.registry,
        )
        self.slack_posts = Counter(
            "reviewops_slack_posts",
            "Slack outbox calls, by kind (root, reply, update, alert) and result",
            ["kind", "result"],
            registry=self.registry,
        )
        if db is not None:
            self.registry.register(QueueCollector(db))
            self.registry.register(SenderCollector(db, clock or SystemClock()))
