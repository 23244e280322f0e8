"""Opt-out reach: a STOP (a signed Twilio inbound webhook) is honoured for every message the
workspace sends to that number on any phone channel, whichever channel it came back by; HELP
names the business and how to reach it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from bot.clock import FrozenClock
from bot.domain.errors import InvalidInput
from tests.conftest import START
from tests.fakes import twilio_api as tw
from tests.test_webhooks_twilio import FROM, PHONE, TOKEN, Web, running

# 10:00 in Los Angeles (the number's zone): inside the recipient's hours.
MORNING_IN_LA = START + timedelta(hours=8)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MORNING_IN_LA)


@pytest.fixture
def web(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    with running(database_url, clock, cooldown_days=0) as served:
        yield served


@pytest.mark.parametrize(
    ("sent_by", "stop_from"), [("sms", PHONE), ("whatsapp", f"whatsapp:{PHONE}")]
)
def test_a_stop_by_either_phone_channel_cancels_every_queued_text_to_that_number(
    web: Web, sent_by: str, stop_from: str
) -> None:
    web.create(method=sent_by)
    assert web.send_all() == 1
    later = [
        web.create(method=channel, when="delay", delay=timedelta(days=1))
        for channel in ("sms", "whatsapp", "sms", "whatsapp")
    ]
    sent = len(web.twilio.messages)

    assert web.inbound("STOP", from_=stop_from) == 200

    assert web.contact().phone_opted_out_at == web.clock.now()
    for request in later:
        message = web.message(request.number)
        assert (message.channel, message.status) in (("sms", "canceled"), ("whatsapp", "canceled"))
        assert message.error_reason == "The customer replied STOP"
    for method in ("sms", "whatsapp"):
        with pytest.raises(InvalidInput, match="opted out"):
            web.create(method=method)
    web.clock.advance(timedelta(days=3))
    assert web.send_all() == 0
    assert len(web.twilio.messages) == sent


def help_answer(web: Web) -> str:
    url = f"{web.url}/webhooks/twilio/inbound"
    params = {"MessageSid": "SM" + "b" * 32, "From": PHONE, "To": FROM, "Body": "HELP"}
    response = requests.post(
        url,
        data=params,
        headers={"X-Twilio-Signature": tw.sign_request(TOKEN, url, params)},
        timeout=5,
    )
    assert response.status_code == 200
    return response.text


def test_help_names_the_business_and_its_address(web: Web) -> None:
    web.create()
    web.send_all()
    said = help_answer(web)
    assert "Acme Bikes: we sent you a request for a review." in said
    assert "Questions? Write to help@acme.example or reply here." in said
    assert "Reply STOP to stop messages" in said


def test_help_without_a_business_name_or_address_names_the_workspace_and_a_way_back(
    database_url: str, clock: FrozenClock
) -> None:
    with running(database_url, clock, business_name="", email_reply_to="") as web:
        web.create()
        web.send_all()
        said = help_answer(web)
    assert "Acme: we sent you a request for a review." in said  # the workspace's name
    assert "Questions? Reply here: the team reads your reply." in said


SERVICE = "MG" + "5" * 32  # a messaging service: Twilio picks the number from its pool
POOL_NUMBER = "+15005550010"  # the pool's number the customer answered (never ours to name)


def test_a_stop_to_a_messaging_service_number_reaches_the_workspace_that_sent_through_it(
    database_url: str, clock: FrozenClock
) -> None:
    through_service = {"TWILIO_FROM": "", "TWILIO_MESSAGING_SERVICE_SID": SERVICE}
    with running(database_url, clock, cooldown_days=0, environment=through_service) as web:
        web.create()
        assert web.send_all() == 1
        [sent] = web.twilio.messages
        assert sent.get("MessagingServiceSid") == SERVICE and not sent.get("From")
        later = web.create(when="delay", delay=timedelta(days=1))
        inbound = f"{web.url}/webhooks/twilio/inbound"

        # The pool's number alone names no sender we sent through: the text goes nowhere.
        assert web.twilio.send_inbound(PHONE, POOL_NUMBER, "STOP", inbound) == 200
        assert web.contact().phone_opted_out_at is None
        # With its service, as Twilio posts it, the STOP reaches the workspace.
        assert web.twilio.send_inbound(PHONE, POOL_NUMBER, "STOP", inbound, service=SERVICE) == 200
        assert web.contact().phone_opted_out_at == web.clock.now()
        assert web.message(later.number).status == "canceled"
