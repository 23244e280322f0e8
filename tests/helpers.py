"""Small builders shared by tests (no stand-ins of our own code)."""

from __future__ import annotations

import io
from collections.abc import Mapping

from bot.clock import FrozenClock
from bot.compose import Composer
from bot.delivery.base import Sender
from bot.delivery.console import ConsoleSender
from bot.dispatching import Dispatcher
from bot.domain.policy import WorkspacePolicy
from bot.notify import Notifier, RecordingNotifier
from bot.requests import Actor, ReviewOps
from store.db import Database

ALICE = Actor("U0ALICE", "alice")
PUBLIC_URL = "https://reviews.example.test"


class Engine:
    """The real use-cases and dispatcher on a test database, with console senders by default."""

    def __init__(
        self,
        db: Database,
        clock: FrozenClock,
        *,
        senders: Mapping[str, Sender] | None = None,
        notifier: Notifier | None = None,
        region: str = "FR",
        **policy: object,
    ) -> None:
        self.db = db
        self.clock = clock
        self.console_out = io.StringIO()
        self.notifier = notifier or RecordingNotifier()
        self.ops = ReviewOps(db, clock=clock, notifier=self.notifier, default_region=region)
        console = ConsoleSender(stream=self.console_out)
        chosen = dict(senders or {})
        for channel in ("sms", "whatsapp", "email"):
            chosen.setdefault(channel, console)
        self.dispatcher = Dispatcher(
            self.ops,
            senders=chosen,
            composer=Composer(public_url=PUBLIC_URL, email_from="shop@example.test"),
        )
        workspace = self.ops.ensure_workspace("T0001", "Acme")
        assert workspace.id is not None
        self.ws = workspace.id
        base = WorkspacePolicy.model_validate(workspace.policy)
        values = {"business_name": "Acme", "region": region, "send_window": "always", **policy}
        self.ops.update_policy(
            self.ws, WorkspacePolicy.model_validate({**base.model_dump(), **values}), ALICE
        )
