"""A poison message (settings or a template it cannot be rendered with) ends `failed` with its
reason and an alert; it never stops the rest of its batch, nor another workspace's messages,
and it does not come back with every lease.

The messages go through the twilio SDK to the fake Twilio over a real socket; what counts is
what the fake received and what the database says after.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.delivery.twilio import TwilioSender
from bot.domain.policy import WorkspacePolicy
from bot.usecases.dispatcher import CLAIM_LEASE, Dispatcher
from bot.usecases.inputs import RequestCreate
from store.db import Database
from store.models import Message, Workspace
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE, Engine

SID = "AC" + "4" * 32
TOKEN = "poison-token"
FROM = "+15005550006"
GOOD = [f"+33 6 15 55 {7000 + i:04d}" for i in range(6)]
POISONED = "+33 6 15 55 7999"


@pytest.fixture
def setup(database_url: str, clock: FrozenClock) -> Iterator[Engine]:
    db = Database(database_url, threads=4)
    yield Engine(db, clock, region="US", cooldown_days=0)
    db.dispose()


def _other_workspace(setup: Engine) -> int:
    other = setup.ops.ensure_workspace("T0002", "Other shop")
    assert other.id is not None
    base = WorkspacePolicy.model_validate(other.policy).model_dump()
    values = {"business_name": "Other", "region": "US", "send_window": "always"}
    setup.ops.update_policy(other.id, WorkspacePolicy.model_validate({**base, **values}), ALICE)
    return other.id


def _spoil_settings(db: Database, workspace_id: int, **stored: Any) -> None:
    """Write settings as an older version or a hand edit could have left them (not validated)."""
    with db.write() as session:
        workspace = session.get(Workspace, workspace_id)
        assert workspace is not None
        workspace.policy = {**workspace.policy, **stored}
        session.add(workspace)


def _dispatcher(setup: Engine, fake: tw.FakeTwilio, concurrency: int) -> Dispatcher:
    sender = TwilioSender(SID, TOKEN, api_url=fake.url, sms_from=FROM, timeout=10.0)
    return Dispatcher(
        setup.ops,
        senders={"sms": sender},
        composer=setup.dispatcher.composer,
        concurrency=concurrency,
    )


def _message_to(db: Database, e164: str) -> Message:
    with db.read() as session:
        found = session.exec(select(Message).where(Message.to_address == e164)).one()
    return found


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize(
    ("spoiled", "why"),
    [
        # A template saved under older rules (an expression): refused when rendered.
        ({"sms_template": "Hi {{ name }} {{ 1 // 0 }}"}, "sms_template can't be used"),
        # Stored settings that no longer validate (a timezone removed from the tz database).
        ({"timezone": "Mars/Olympus_Mons"}, "timezone: "),
    ],
    ids=["template", "settings"],
)
def test_a_poison_message_fails_with_its_reason_and_the_rest_is_sent(
    setup: Engine, clock: FrozenClock, concurrency: int, spoiled: dict[str, Any], why: str
) -> None:
    other = _other_workspace(setup)
    # The poisoned workspace's message is due first, in the middle of everyone else's.
    setup.ops.create(setup.ws, RequestCreate(name="Poisoned", phone=POISONED), ALICE)
    for i, phone in enumerate(GOOD):
        setup.ops.create(other, RequestCreate(name=f"Good {i}", phone=phone), ALICE)
    _spoil_settings(setup.db, setup.ws, **spoiled)

    with tw.FakeTwilio(SID, TOKEN) as fake:
        worker = _dispatcher(setup, fake, concurrency)
        assert worker.run_until_idle() == len(GOOD)
        # Past any lease: nothing comes back to be tried again.
        clock.advance(CLAIM_LEASE + timedelta(minutes=1))
        worker.reap()
        assert worker.run_until_idle() == 0
        worker.close()
        received = [m["To"] for m in fake.messages]

    assert sorted(received) == sorted(p.replace(" ", "") for p in GOOD)
    poisoned = _message_to(setup.db, "+33615557999")
    assert poisoned.status == "failed"
    assert poisoned.error_reason is not None
    assert (
        poisoned.error_reason.startswith("Could not be prepared") and why in poisoned.error_reason
    )
    alerts = [c for _number, c in setup.notifier.changes if c.alert and c.kind == "failed"]
    assert len(alerts) == 1 and "Could not be prepared" in alerts[0].text
