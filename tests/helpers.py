"""Small builders shared by tests (no stand-ins of our own code)."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.clock import FrozenClock, SystemClock
from bot.compose import Composer
from bot.delivery.base import Sender
from bot.delivery.console import ConsoleSender
from bot.domain.policy import WorkspacePolicy
from bot.usecases.actors import Actor
from bot.usecases.dispatcher import Dispatcher
from bot.usecases.notifier import Notifier, RecordingNotifier
from bot.usecases.review_ops import ReviewOps
from store.db import Database

ALICE = Actor("U0ALICE", "alice")

CliInvoke = Callable[..., Result]


def cli_invoker(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    region: str = "FR",
) -> CliInvoke:
    """Return a function that runs the real `reviewops` CLI in-process on a test database:
    no stray .env, no Slack token, console senders (no Twilio, no SMTP)."""
    from bot.cli import cli

    monkeypatch.chdir(tmp_path)  # no stray .env is read
    _daytime(monkeypatch)
    env = {"DATABASE_URL": database_url, "DEFAULT_REGION": region, "SLACK_BOT_TOKEN": ""}
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), env=env, input=input)

    return invoke


def _daytime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the in-process CLI's system clock at 12:00 UTC of today, moving as usual.

    Quiet hours (08:00-21:00 in the recipient's zones, never looser) would hold a test's SMS
    to a French number at night, so CLI tests that send would pass or fail with the hour they
    run at. Noon UTC is day in France on the same UTC date.
    """
    real = datetime.now(UTC)
    shift = real.replace(hour=12, minute=0, second=0, microsecond=0) - real
    monkeypatch.setattr(SystemClock, "now", lambda _self: datetime.now(UTC) + shift)


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
