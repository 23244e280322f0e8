"""A customer's text back reaches only a workspace that sent to them through that sender.

Two workspaces share the operator's Twilio account; the fake Twilio posts signed inbound
webhooks to the running app, as Twilio does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.domain.policy import WorkspacePolicy
from bot.usecases.inputs import RequestCreate
from store.models import Contact, Event, Message, ReviewRequest
from tests.fakes.twilio_api import SCENARIO_UNSUBSCRIBED
from tests.helpers import ALICE
from tests.test_dispatch import NANP_EVENING
from tests.test_webhooks_twilio import FROM, PHONE, Web, running

OTHER_NUMBER = "+15005550009"  # an operator number no workspace sent from


class Two:
    """Workspace A (the `web` fixture's) and workspace B, on one app and one Twilio account."""

    def __init__(self, web: Web) -> None:
        self.web = web
        workspace = web.ops.ensure_workspace("T0002", "Beta")
        assert workspace.id is not None
        self.b = workspace.id
        policy = WorkspacePolicy.model_validate(
            {
                **web.ops.policy(web.ws).model_dump(),
                "business_name": "Beta Shop",
                "cooldown_days": 0,
            }
        )
        web.ops.update_policy(self.b, policy, ALICE)

    def create(self, workspace: int, **values: Any) -> int:
        values.setdefault("name", "Jane Doe")
        values.setdefault("phone", PHONE)
        values.setdefault("method", "sms")
        request = self.web.ops.create(workspace, RequestCreate(**values), ALICE)
        return int(request.id)

    def inbound(self, body: str, *, to: str = FROM) -> int:
        url = f"{self.web.url}/webhooks/twilio/inbound"
        return self.web.twilio.send_inbound(PHONE, to, body, url)

    def events(self, kind: str) -> list[Event]:
        with self.web.app.db.read() as session:
            return list(
                session.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))).all()
            )

    def contact(self, workspace: int) -> Contact:
        with self.web.app.db.read() as session:
            return session.exec(
                select(Contact).where(Contact.workspace_id == workspace, Contact.phone == PHONE)
            ).one()

    def contacts(self, phone: str) -> list[Contact]:
        with self.web.app.db.read() as session:
            return list(session.exec(select(Contact).where(Contact.phone == phone)).all())

    def status(self, request_id: int) -> str:
        with self.web.app.db.read() as session:
            message = session.exec(select(Message).where(Message.request_id == request_id)).first()
            assert message is not None
            return message.status

    def set_policy(self, workspace: int, **values: Any) -> None:
        ops = self.web.ops
        policy = ops.policy(workspace).model_dump()
        ops.update_policy(workspace, WorkspacePolicy.model_validate({**policy, **values}), ALICE)


@pytest.fixture
def two(database_url: str, clock: FrozenClock) -> Iterator[Two]:
    with running(database_url, clock, cooldown_days=0) as web:
        yield Two(web)


def request_of(two: Two, event: Event) -> ReviewRequest:
    with two.web.app.db.read() as session:
        request = session.get(ReviewRequest, event.request_id)
        assert request is not None
        return request


def test_a_reply_goes_to_the_workspace_that_sent_not_the_newest_request(two: Two) -> None:
    sent_by_a = two.create(two.web.ws)
    assert two.web.send_all() == 1
    two.web.clock.advance(timedelta(hours=1))
    # B writes to the same number later but has sent nothing yet: the reply is not B's.
    waiting_in_b = two.create(two.b, when="delay", delay=timedelta(days=1))

    assert two.inbound("Who is this?") == 200

    [reply] = two.events("reply")
    assert reply.workspace_id == two.web.ws and reply.request_id == sent_by_a
    assert reply.message_id is not None
    [change] = two.web.changes("reply")
    assert change.text == "Jane Doe replied: Who is this?"
    assert two.status(waiting_in_b) == "queued"


def test_a_reply_goes_to_the_latest_message_handed_over_through_that_number(two: Two) -> None:
    two.create(two.web.ws)
    two.web.send_all()
    two.web.clock.advance(timedelta(hours=1))
    later_in_b = two.create(two.b)
    two.web.send_all()

    assert two.inbound("Thanks!") == 200
    [reply] = two.events("reply")
    assert (reply.workspace_id, reply.request_id) == (two.b, later_in_b)


def test_a_text_to_a_number_nobody_sent_from_goes_nowhere(
    two: Two, caplog: pytest.LogCaptureFixture
) -> None:
    two.create(two.web.ws)
    two.web.send_all()

    with caplog.at_level(logging.WARNING, logger="bot.usecases.inbound"):
        assert two.inbound("Hello?", to=OTHER_NUMBER) == 200
        assert two.inbound("STOP", to=OTHER_NUMBER) == 200

    assert two.web.twilio.webhooks[-1].body.endswith("<Response/>")
    assert two.events("reply") == [] and two.events("opted_out") == []
    assert two.web.changes("reply") == [] and two.web.changes("opted_out") == []
    assert two.contact(two.web.ws).phone_opted_out_at is None
    unrouted = [r.getMessage() for r in caplog.records if "unrouted" in r.getMessage()]
    assert len(unrouted) == 2
    assert all(PHONE not in line and "Hello?" not in line for line in unrouted)


def test_nothing_handed_over_yet_means_no_reply_is_routed(two: Two) -> None:
    two.create(two.web.ws, when="delay", delay=timedelta(days=1))
    assert two.inbound("Hello?") == 200
    assert two.events("reply") == []


def test_stop_is_honoured_by_every_workspace_that_sent_from_that_number(two: Two) -> None:
    two.create(two.web.ws)
    two.create(two.b)
    two.web.send_all()
    later_a = two.create(two.web.ws, when="delay", delay=timedelta(days=1))
    later_b = two.create(two.b, when="delay", delay=timedelta(days=1))

    assert two.inbound("STOP") == 200

    now = two.web.clock.now()
    assert two.contact(two.web.ws).phone_opted_out_at == now
    assert two.contact(two.b).phone_opted_out_at == now
    assert two.status(later_a) == "canceled" and two.status(later_b) == "canceled"
    assert sorted(e.workspace_id for e in two.events("opted_out")) == sorted([two.web.ws, two.b])


def test_stop_and_start_leave_a_workspace_that_sent_through_another_sender_alone(
    two: Two,
) -> None:
    # B sends under its own sender name, not the operator's number the customer answers.
    two.set_policy(two.b, sms_sender="BetaShop")
    two.create(two.web.ws)
    two.create(two.b)
    two.web.send_all()
    later_b = two.create(two.b, when="delay", delay=timedelta(days=1))

    assert two.inbound("STOP") == 200
    assert two.contact(two.web.ws).phone_opted_out_at is not None
    assert two.contact(two.b).phone_opted_out_at is None
    assert two.status(later_b) == "queued"
    assert [e.workspace_id for e in two.events("opted_out")] == [two.web.ws]

    # B's customer opted out by another rule (set up through the journal, the one owner of
    # opt-outs); a START to the operator's number, which B never sent from, is not B's to lift.
    before = two.web.clock.now()
    with two.web.app.db.write() as session:
        two.web.ops.journal.opt_out_phone(session, PHONE, "by hand", before, workspaces=[two.b])
    assert two.inbound("START") == 200
    assert two.contact(two.web.ws).phone_opted_out_at is None
    assert two.contact(two.b).phone_opted_out_at == before


def test_twilio_refusing_a_number_opts_it_out_only_where_that_sender_reached_it(
    two: Two,
) -> None:
    """Twilio's 21610 says the number sent STOP to this sender: it opts the number out in the
    workspaces that texted it through that sender, not in one that has not yet (whose own
    send is refused in turn, and opts out then): nothing reaches the customer either way."""
    refused = SCENARIO_UNSUBSCRIBED
    two.web.clock.set(NANP_EVENING)  # within the recipient's hours (a US number)
    later_b = two.create(two.b, phone=refused, when="delay", delay=timedelta(days=1))
    sent_by_a = two.create(two.web.ws, phone=refused)

    two.web.send_all()
    assert two.status(sent_by_a) == "unsubscribed"
    opted = {c.workspace_id: c.phone_opted_out_at for c in two.contacts(refused)}
    assert opted == {two.web.ws: two.web.clock.now(), two.b: None}
    assert two.status(later_b) == "queued"
    assert [e.workspace_id for e in two.events("opted_out")] == [two.web.ws]

    two.web.clock.advance(timedelta(days=1, minutes=1))
    two.web.send_all()
    assert two.status(later_b) == "unsubscribed"
    assert all(c.phone_opted_out_at is not None for c in two.contacts(refused))
    assert [e.workspace_id for e in two.events("opted_out")] == [two.web.ws, two.b]
