"""The app factory: wire settings, store, senders, use-cases and the scheduler; nothing at import."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import tracing
from bot.clock import Clock, SystemClock
from bot.compose import Composer
from bot.delivery.base import Sender
from bot.delivery.console import ConsoleSender
from bot.domain.channels import CHANNELS
from bot.domain.events import allow_private_targets
from bot.metrics import Metrics
from bot.settings import Settings
from bot.usecases.dispatcher import Dispatcher
from bot.usecases.events import EventNotifier
from bot.usecases.notifier import Notifier, Notifiers
from bot.usecases.pacing import Pacing
from bot.usecases.review_ops import ReviewOps
from scheduler import dispatch, erasure, heartbeat, reaper
from scheduler.jobs import Scheduler
from store.db import Database

if TYPE_CHECKING:
    from flask import Flask

    from bot.slack import BoltWiring
    from scheduler.events import EventSender
    from scheduler.inbox import InboxDrainer
    from scheduler.outbox import OutboxSender

log = logging.getLogger(__name__)

FlaskHook = Callable[["Flask"], None]


@dataclass
class ReviewOpsApp:
    """Everything a process needs, built once by `create_app`."""

    settings: Settings
    db: Database
    clock: Clock
    ops: ReviewOps
    dispatcher: Dispatcher
    scheduler: Scheduler
    senders: Mapping[str, Sender]
    metrics: Metrics
    outbox: OutboxSender | None = None
    slack: BoltWiring | None = None  # set by bot.slack.create_bolt_app
    flask_hooks: list[FlaskHook] = field(default_factory=list)  # run by bot.server.create_flask
    # The web process applies stored webhooks in its own thread; tests apply them themselves.
    inbox_in_background: bool = True
    _inbox: InboxDrainer | None = field(default=None, init=False, repr=False)
    _events: EventSender | None = field(default=None, init=False, repr=False)

    @property
    def events(self) -> EventSender:
        """The outbound events' sender, built when first wanted (the scheduler, tests): the
        web tier never loads it, nor the HTTP client it brings."""
        if self._events is None:
            from scheduler import events as event_jobs

            self._events = event_jobs.EventSender(
                self.db, self.clock, metrics=self.metrics, secrets=self.ops.secrets
            )
        return self._events

    def inbox(self) -> InboxDrainer:
        """The webhook inbox of this process and the thread that applies it (built once)."""
        if self._inbox is None:
            from bot.usecases.feedback import Feedback
            from bot.usecases.inbox import Inbox
            from scheduler.inbox import InboxDrainer

            waited = self.metrics.webhook_apply_seconds

            def applied(source: str, seconds: float) -> None:
                waited.labels(source).observe(seconds)

            self._inbox = InboxDrainer(Inbox(Feedback(self.ops), applied=applied))
        return self._inbox

    def start_scheduler(self) -> None:
        """Start the dispatch, reaper, erasure, Slack outbox and digest jobs; dispatch woken when due."""
        dispatch.register(self.scheduler, self.dispatcher)
        heartbeat.register(self.scheduler, self.db, self.clock)
        reaper.register(self.scheduler, self.dispatcher)
        self._register_reconcile()
        grace = self.settings.uninstalled_retention_days
        erasure.register(self.scheduler, self.ops.erasure, grace)
        if self.settings.twilio_auth_token:
            # Where status callbacks can be verified, some may wait in the inbox: sweep it.
            from scheduler import inbox as webhook_inbox

            webhook_inbox.register(self.scheduler, self.inbox().inbox)
        if self.outbox is not None:
            from scheduler import outbox as slack_outbox

            slack_outbox.register(self.scheduler, self.outbox)
            self._register_digest(self.outbox)
        from scheduler import events

        events.register(self.scheduler, self.events)
        self.ops.set_wake(self.scheduler.wake)
        self.scheduler.start()

    def _register_digest(self, outbox: OutboxSender) -> None:
        # Posted through the outbox's Slack clients (each workspace's token, no retry handlers).
        from scheduler import digest

        poster = digest.DigestPoster(self.ops.digests, outbox.client_for_workspace)
        digest.register(self.scheduler, poster)

    def _register_reconcile(self) -> None:
        # Only Twilio can be asked what became of a message whose answer was lost; imported
        # here so a process without Twilio never loads the twilio SDK.
        from bot.usecases.feedback import Feedback
        from scheduler import reconcile

        found = reconcile.finders(self.senders)
        if found:
            reconcile.register(self.scheduler, reconcile.Reconciler(Feedback(self.ops), found))

    def close(self) -> None:
        self.ops.set_wake(None)
        if self._inbox is not None:
            self._inbox.stop()
        self.scheduler.shutdown(wait=True)
        if self._events is not None:
            self._events.close()
        self.dispatcher.close()
        self.db.dispose()
        tracing.flush()  # a stopping process's last spans (forked children skip exit hooks)


def build_senders(settings: Settings) -> dict[str, Sender]:
    """Use Twilio and SMTP where configured; print to the console otherwise."""
    senders: dict[str, Sender] = {}
    if settings.sms_live or settings.whatsapp_live:
        from bot.delivery.twilio import TwilioSender

        assert settings.twilio_account_sid and settings.twilio_auth_token
        twilio = TwilioSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            api_url=settings.twilio_api_url,
            sms_from=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            whatsapp_from=settings.twilio_whatsapp_from,
            connections=settings.dispatch_concurrency,
        )
        if settings.sms_live:
            senders["sms"] = twilio
        if settings.whatsapp_live:
            senders["whatsapp"] = twilio
    if settings.email_live:
        from bot.delivery.smtp import SmtpSender

        assert settings.smtp_url
        senders["email"] = SmtpSender(
            settings.smtp_url,
            default_from=settings.email_from or "reviews@localhost",
            default_reply_to=settings.email_reply_to,
        )
    console = ConsoleSender()
    for channel in CHANNELS:
        senders.setdefault(channel, console)
    return senders


def with_events(notifier: Notifier | None, clock: Clock) -> Notifier:
    """Tell `notifier` (Slack) and write the outbound event of each change (where asked for)."""
    return Notifiers([n for n in (notifier, EventNotifier(clock)) if n is not None])


def _dispatcher(
    settings: Settings, ops: ReviewOps, senders: dict[str, Sender], metrics: Metrics
) -> Dispatcher:
    composer = Composer(
        public_url=settings.public_url,
        email_from=settings.email_from,
        email_reply_to=settings.email_reply_to,
    )
    # Paced by the senders the settings name; console senders are not paced.
    pacing = Pacing(ops.journal, settings.pacing_rates(), settings.sender_setup())
    return Dispatcher(
        ops,
        senders=senders,
        composer=composer,
        metrics=metrics,
        pacing=pacing,
        concurrency=settings.dispatch_concurrency,
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    senders: Mapping[str, Sender] | None = None,
    notifier: Notifier | None = None,
) -> ReviewOpsApp:
    """Build a wired app from settings; tests pass their own clock, senders and notifier."""
    clock = clock or SystemClock()
    tracing.configure(settings)  # in each process (web workers, scheduler, CLI), once
    allow_private_targets(settings.events_allow_private)
    db = Database(settings.database_url, threads=settings.dispatch_concurrency)
    metrics = Metrics(db, clock=clock)
    outbox: OutboxSender | None = None
    if settings.slack_bot_token or settings.slack_client_id:
        # Imported only where Slack is configured: the CLI and Slack-less workers skip the
        # Block Kit builders and the Slack SDK.
        from handlers.outbox_writer import SlackNotifier
        from scheduler.outbox import OutboxSender
        from scheduler.slack_clients import WorkspaceClients
        from store.installations import TokenCipher

        # Every change becomes Slack outbox rows, posted by the outbox job in order.
        notifier = notifier or SlackNotifier(clock)
        clients = WorkspaceClients(
            db,
            base_url=settings.slack_api_url,
            default_token=settings.slack_bot_token,
            cipher=TokenCipher(settings.token_keys()),
        )
        outbox = OutboxSender(db, clients, clock, metrics=metrics)
    notifiers = with_events(notifier, clock)
    ops = ReviewOps(
        db,
        clock=clock,
        notifier=notifiers,
        default_region=settings.default_region,
        suppression_key=settings.suppression_key,
        token_keys=settings.token_keys(),
    )
    chosen = dict(senders) if senders is not None else build_senders(settings)
    dispatcher = _dispatcher(settings, ops, chosen, metrics)
    return ReviewOpsApp(
        settings=settings,
        db=db,
        clock=clock,
        ops=ops,
        dispatcher=dispatcher,
        scheduler=Scheduler(),
        senders=chosen,
        metrics=metrics,
        outbox=outbox,
    )
