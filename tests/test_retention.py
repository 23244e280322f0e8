"""Retention: the daily erasure job, run with an injected clock, and the uninstall grace period.

The job erases the personal data of requests older than the workspace's `retention_days`
(default 1095) and keeps their rows, so the stats over their period are unchanged; and it
erases a workspace's customers 30 days after it uninstalled the app, unless it came back.
"""

# ruff: noqa: F811  (pytest fixtures imported by name and used as arguments)

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.usecases.actors import Actor
from bot.usecases.erasure import ErasureRun
from scheduler.erasure import run_erasure
from store.models import Contact, Event, Message, ReviewRequest
from tests.helpers import cli_invoker
from tests.slack_harness import ADMIN, CHANNEL, SlackHarness, slack_fixture, text_of  # noqa: F401
from tests.test_slack_bulk import drain_outbox
from tests.test_slack_oauth import Installed, install, served  # noqa: F401
from tests.test_trust_tenant_install import (
    UNINSTALLED,
    event_body,
    events,
    post_signed,
    served_command,
    served_event,
    stored,
)

GRACE = 30  # UNINSTALLED_RETENTION_DAYS' default
STATS = "stats from:2026-11-01 to:2029-12-31"


def requests_of(app: Any) -> list[ReviewRequest]:
    with app.db.read() as session:
        return list(session.exec(select(ReviewRequest).order_by(col(ReviewRequest.id))).all())


def contacts_of(app: Any) -> list[Contact]:
    with app.db.read() as session:
        return list(session.exec(select(Contact).order_by(col(Contact.id))).all())


def bodies_of(app: Any, request_id: int | None) -> list[str | None]:
    with app.db.read() as session:
        rows = session.exec(select(Message).where(Message.request_id == request_id)).all()
        return [m.body for m in rows]


def stats_text(slack: SlackHarness) -> str:
    assert slack.post_command(STATS).status_code == 200
    return text_of(slack.answer())


@pytest.fixture
def years(slack: SlackHarness) -> SlackHarness:
    """Jane and Bob asked on day 0 (sent by SMS), Bob again 800 days later; now day 1096."""
    slack.set_policy(delay="0", send_window="always", cooldown_days=0)
    jane = {"reference": "OLD-1", "when": "now", "origin_channel": CHANNEL}
    slack.create("Jane Doe", phone="+33 6 10 20 30 40", **jane)  # her card is in #sales
    slack.create("Bob Martin", phone="+33 6 12 34 56 78", email="bob@example.com", when="now")
    slack.app.dispatcher.run_until_idle()
    drain_outbox(slack)
    slack.clock.advance(timedelta(days=800))
    slack.create("Bob Martin", phone="+33 6 12 34 56 78", when="now")
    slack.app.dispatcher.run_until_idle()
    slack.clock.advance(timedelta(days=296))
    # Cards go to #sales from now on: the erasure must not post one for an old request.
    slack.set_policy(notify_channel=CHANNEL)
    return slack


def test_retention_erases_old_requests_keeps_recent_ones_and_the_stats(
    years: SlackHarness,
) -> None:
    slack = years
    before = stats_text(slack)
    assert "sent" in before.lower()

    assert run_erasure(slack.ops.erasure, GRACE) == ErasureRun(by_retention=2)

    old_jane, old_bob, recent = requests_of(slack.app)
    for old in (old_jane, old_bob):
        assert (old.customer_name, old.phone, old.email, old.reference) == (
            "erased",
            None,
            None,
            None,
        )
        assert old.erased_at == slack.clock.now() and old.deleted_at is None
        assert (old.status, old.channel) == ("sent", "sms")  # what the counts read
        assert bodies_of(slack.app, old.id) == [None]
    assert (recent.customer_name, recent.phone) == ("Bob Martin", "+33612345678")
    assert bodies_of(slack.app, recent.id) != [None]
    jane, bob = contacts_of(slack.app)
    assert (jane.name, jane.phone, jane.email) == ("erased", None, None)  # nothing of hers left
    assert (bob.name, bob.phone) == ("Bob Martin", "+33612345678")  # a recent request keeps him

    assert stats_text(slack) == before
    drain_outbox(slack)
    [card] = slack.fake.messages(CHANNEL)  # Jane's, updated; none posted for Bob's old one
    replies = slack.fake.thread(CHANNEL, card["ts"])
    shown = json.dumps([(m["text"], m.get("blocks")) for m in replies])
    assert "Jane" not in shown and "OLD-1" not in shown
    assert "Customer data erased (retention)" in shown
    assert run_erasure(slack.ops.erasure, GRACE) == ErasureRun()  # idempotent


def test_two_schedulers_running_the_job_at_once_erase_and_say_each_request_once(
    years: SlackHarness,
) -> None:
    if years.app.db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: the second run sees the first's work")
    erasure = years.ops.erasure
    go = threading.Barrier(2)
    runs: list[ErasureRun] = []

    def run() -> None:
        go.wait()
        runs.append(erasure.run_daily(GRACE))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r.by_retention for r in runs) == 2
    with years.app.db.read() as session:
        erased = session.exec(select(Event).where(Event.kind == "erased")).all()
    assert sorted(e.request_id or 0 for e in erased) == sorted(
        r.id or 0 for r in requests_of(years.app)[:2]
    )


def test_a_run_is_bounded_by_batches(years: SlackHarness) -> None:
    erasure = years.ops.erasure
    assert erasure.run_daily(GRACE, batch=1) == ErasureRun(by_retention=1)
    assert run_erasure(erasure, GRACE, max_rounds=1) == ErasureRun(by_retention=1)
    assert run_erasure(erasure, GRACE) == ErasureRun()


def test_retention_zero_keeps_everything(years: SlackHarness) -> None:
    years.set_policy(retention_days=0)
    assert run_erasure(years.ops.erasure, GRACE) == ErasureRun()
    assert [r.customer_name for r in requests_of(years.app)] == ["Jane Doe", "Bob Martin"] + [
        "Bob Martin"
    ]


def test_a_shorter_retention_than_a_month_is_refused(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = cli_invoker(database_url, monkeypatch, tmp_path)
    refused = run("settings", "set", "retention_days=10")
    assert refused.exit_code == 2 and "at least 30 days, or 0 to keep it forever" in refused.output
    assert run("settings", "set", "retention_days=0").exit_code == 0
    shown = run("settings", "show").output
    assert "retention_days" in shown and "1095" not in shown


# --- uninstalled workspaces ---------------------------------------------------------------------


def uninstalled_with_a_request(served: Installed) -> FrozenClock:
    assert install(served).status_code == 200
    assert "Jane Doe" in served_command(served, "send Jane Doe +33 6 10 20 30 40 in:2d")
    assert served_event(served, UNINSTALLED) == 200
    clock = served.app.clock
    assert isinstance(clock, FrozenClock)
    return clock


def test_an_uninstalled_workspace_is_erased_after_the_grace_period(served: Installed) -> None:
    # Bob's only request was deleted before: his contact is erased by the sweep of contacts.
    assert install(served).status_code == 200
    assert "#1" in served_command(served, "send Bob Roe +33 6 11 22 33 44 in:2d")
    workspace = stored(served.app)
    assert workspace is not None and workspace.id is not None
    served.app.ops.delete(workspace.id, 1, Actor("cli:ops", "ops", admin=True))
    clock = uninstalled_with_a_request(served)
    clock.advance(timedelta(days=GRACE - 1))
    assert run_erasure(served.app.ops.erasure, GRACE) == ErasureRun()
    assert requests_of(served.app)[-1].customer_name == "Jane Doe"

    clock.advance(timedelta(days=2))
    assert run_erasure(served.app.ops.erasure, GRACE) == ErasureRun(by_uninstall=2)
    [_, request] = requests_of(served.app)
    assert (request.customer_name, request.phone, request.erased_at) == (
        "erased",
        None,
        clock.now(),
    )
    assert [(c.name, c.phone) for c in contacts_of(served.app)] == [("erased", None)] * 2
    assert request.status == "canceled"  # it was paused by the uninstall, now never sent


def test_a_reinstall_within_the_grace_period_keeps_the_data(served: Installed) -> None:
    clock = uninstalled_with_a_request(served)
    clock.advance(timedelta(days=10))
    assert install(served).status_code == 200
    clock.advance(timedelta(days=GRACE * 2))
    assert run_erasure(served.app.ops.erasure, GRACE) == ErasureRun()
    assert requests_of(served.app)[0].customer_name == "Jane Doe"


def test_retention_is_a_workspace_setting_in_slack(slack: SlackHarness) -> None:
    assert slack.post_command("settings set retention_days=7", user=ADMIN).status_code == 200
    assert "at least 30 days, or 0 to keep it forever" in text_of(slack.answer())
    assert slack.ops.policy(slack.ws).retention_days == 1095  # the default, unchanged
    assert slack.post_command("settings set retention_days=365", user=ADMIN).status_code == 200
    assert "Settings saved: retention_days" in text_of(slack.answer())
    assert slack.ops.policy(slack.ws).retention_days == 365


def test_a_single_workspace_install_is_not_erased_by_the_grace_period(slack: SlackHarness) -> None:
    # With SLACK_BOT_TOKEN a reinstall records nothing, so an uninstall can't be known final.
    slack.create("Jane Doe", phone="+33 6 10 20 30 40", when="delay")
    body = event_body(UNINSTALLED)
    assert post_signed(slack.url, body, "application/json").status_code == 200
    assert len(events(slack.app, "uninstalled")) == 1
    slack.clock.advance(timedelta(days=GRACE + 1))
    assert run_erasure(slack.ops.erasure, GRACE) == ErasureRun()
    assert requests_of(slack.app)[0].customer_name == "Jane Doe"
