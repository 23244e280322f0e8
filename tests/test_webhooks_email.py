"""Mailgun webhooks, signed and unsigned, posted to the running app; events mapped by Message-ID."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlmodel import select

from bot.clock import FrozenClock
from store.models import Contact
from tests.fakes.smtp_server import SmtpServer
from tests.test_webhooks_twilio import Web, running

KEY = "key-mailgun-signing"
EMAIL = "jane@example.com"


@pytest.fixture
def web(database_url: str, clock: FrozenClock, smtp: SmtpServer) -> Iterator[Web]:
    with running(
        database_url, clock, smtp_url=smtp.url, mailgun_signing_key=KEY, cooldown_days=0
    ) as served:
        yield served


def signature(web: Web, *, key: str = KEY, age: timedelta = timedelta(0)) -> dict[str, str]:
    timestamp = str(int((web.clock.now() - age).timestamp()))
    token = secrets.token_hex(25)
    digest = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": digest}


def event(message_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": secrets.token_urlsafe(16),
        "event": name,
        "timestamp": 1_795_000_000.0,
        "recipient": EMAIL,
        "message": {"headers": {"message-id": message_id}},
        **extra,
    }


def post(web: Web, payload: dict[str, Any], provider: str = "mailgun") -> int:
    response = requests.post(f"{web.url}/webhooks/email/{provider}", json=payload, timeout=5)
    return response.status_code


def signed(web: Web, data: dict[str, Any]) -> int:
    return post(web, {"signature": signature(web), "event-data": data})


def sent_email(web: Web, smtp: SmtpServer) -> tuple[int, str]:
    request = web.create(method="email", email=EMAIL, phone=None)
    web.send_all()
    header = smtp.messages[-1].message["Message-ID"]
    assert header.startswith("<") and web.message(request.number).provider_id == header
    # Mailgun quotes the Message-ID without its angle brackets.
    return request.number, header.strip("<>")


def opted_out(web: Web) -> bool:
    with web.app.db.read() as session:
        contact = session.exec(select(Contact).where(Contact.email == EMAIL)).one()
        return contact.email_opted_out_at is not None


def test_signed_delivered_is_applied(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    assert signed(web, event(message_id, "delivered")) == 200
    detail = web.ops.show(web.ws, number)
    assert detail.messages[0].status == "delivered"
    assert detail.request.delivered_at == web.clock.now()
    assert [e.actor for e in detail.events if e.kind == "delivered"] == ["mailgun"]


def test_bracketed_message_id_matches_too(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    assert signed(web, event(f" <{message_id}> ", "delivered")) == 200
    assert web.message(number).status == "delivered"


def test_unsigned_and_forged_are_refused_and_change_nothing(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    data = event(message_id, "complained")
    assert post(web, {"event-data": data}) == 403
    assert post(web, {"signature": signature(web, key="wrong"), "event-data": data}) == 403
    forged = {**signature(web), "signature": "0" * 64}
    assert post(web, {"signature": forged, "event-data": data}) == 403
    assert post(web, {"signature": "nope", "event-data": data}) == 403
    assert web.message(number).status == "sent"
    assert not opted_out(web)
    assert web.changes("complained") == []


def test_stale_and_replayed_tokens_are_refused(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    stale = signature(web, age=timedelta(minutes=6))
    assert post(web, {"signature": stale, "event-data": event(message_id, "opened")}) == 406
    assert web.message(number).status == "sent"
    fresh = signature(web)
    assert post(web, {"signature": fresh, "event-data": event(message_id, "delivered")}) == 200
    assert post(web, {"signature": fresh, "event-data": event(message_id, "opened")}) == 406
    assert web.message(number).status == "delivered"


def test_opened_and_clicked(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    assert signed(web, event(message_id, "opened")) == 200
    assert web.message(number).status == "opened"
    assert signed(web, event(message_id, "clicked")) == 200
    detail = web.ops.show(web.ws, number)
    assert detail.messages[0].status == "clicked"
    assert detail.request.opened_at is not None and detail.request.clicked_at is not None


def test_complaint_opts_out_and_alerts(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    queued = web.create(method="email", email=EMAIL, phone=None, delay=timedelta(days=3))
    assert signed(web, event(message_id, "complained")) == 200
    assert web.message(number).status == "complained"
    assert web.message(queued.number).status == "canceled"
    assert opted_out(web)
    [alert] = web.changes("complained")
    assert alert.alert and "spam" in alert.text


def test_unsubscribed_event(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    assert signed(web, event(message_id, "unsubscribed")) == 200
    assert web.message(number).status == "unsubscribed"
    assert opted_out(web)


def test_permanent_failure_fails_with_reason(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    data = event(
        message_id,
        "failed",
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "description": "Mailbox does not exist"}},
    )
    assert signed(web, data) == 200
    message = web.message(number)
    assert (message.status, message.error_code, message.error_reason) == (
        "failed",
        "550",
        "Mailbox does not exist",
    )
    [alert] = web.changes("failed")
    assert alert.alert and "Mailbox does not exist" in alert.text


def test_temporary_failure_is_only_an_event(web: Web, smtp: SmtpServer) -> None:
    number, message_id = sent_email(web, smtp)
    data = event(
        message_id,
        "failed",
        severity="temporary",
        **{"delivery-status": {"code": 452, "message": "Mailbox full, try later"}},
    )
    assert signed(web, data) == 200
    assert signed(web, data) == 200  # Mailgun's own repeat of the same event id
    assert web.message(number).status == "sent"
    delayed = [e for e in web.ops.show(web.ws, number).events if e.kind == "delivery_delayed"]
    assert len(delayed) == 1 and delayed[0].detail["code"] == "452"
    assert web.changes("failed") == []


def test_unknown_message_and_provider(web: Web) -> None:
    assert signed(web, event("nobody@mailgun.example", "delivered")) == 200
    assert post(web, {"signature": signature(web)}, provider="sendgrid") == 404
    assert post(web, {"signature": signature(web)}) == 400  # signed but no event-data


def test_without_a_signing_key_mailgun_is_refused(database_url: str, clock: FrozenClock) -> None:
    with running(database_url, clock) as web:
        assert (
            post(web, {"signature": signature(web), "event-data": event("x", "delivered")}) == 403
        )


def test_a_mail_server_essay_is_stored_bounded_and_still_fails_the_message(
    web: Web, smtp: SmtpServer
) -> None:
    # Receiving servers explain bounces at length (policy pages, whole transcripts): the
    # reason is kept to its column's 500 characters, on SQLite as on PostgreSQL.
    number, message_id = sent_email(web, smtp)
    essay = "Mailbox does not exist. " + "See https://postmaster.example/policy " * 200
    data = event(
        message_id,
        "failed",
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "description": essay}},
    )
    assert signed(web, data) == 200
    message = web.message(number)
    assert message.status == "failed"
    assert message.error_reason is not None and len(message.error_reason) <= 500
    assert message.error_reason.startswith("Mailbox does not exist.")
    request = web.app.ops.show(web.ws, number).request
    assert request.last_error is not None and len(request.last_error) <= 500
