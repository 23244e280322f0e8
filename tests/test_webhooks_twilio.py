"""Twilio status callbacks and inbound replies, posted signed by the fake Twilio to the running app."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from sqlmodel import col, select
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bot.app import ReviewOpsApp, create_app
from bot.clock import FrozenClock
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.policy import WorkspacePolicy
from bot.server import create_flask
from bot.settings import Settings
from bot.usecases.inputs import RequestCreate
from bot.usecases.notifier import Change, RecordingNotifier
from bot.webhooks import register_webhooks
from store.filter_sql import HistoryFilter
from store.models import Contact, Event, Message
from store.queries import list_requests
from tests.fakes import twilio_api as tw
from tests.helpers import ALICE

SID = "AC" + "1" * 32
TOKEN = "twilio-auth-token"
FROM = "+15005550006"
# Twilio's magic numbers (+1 500) are non-geographic: they may be in any North American zone,
# Guam to St John's, so the recipient's hours hold in all of them only about 22:00-00:30 UTC.
NANP_EVENING = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
PHONE = "+33615550100"
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _Late:
    """A WSGI app set after the server knows its port (PUBLIC_URL must name that port)."""

    wsgi: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.wsgi is not None
        return self.wsgi(environ, start_response)


@contextmanager
def serving() -> Iterator[tuple[str, _Late]]:
    """Serve a WSGI app on 127.0.0.1 (port 0) in a thread; yield its URL and the app slot."""
    late = _Late()
    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, late, threaded=True, request_handler=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", late
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Web:
    """The wired app served over HTTP, with its fake Twilio and what the team was told."""

    url: str
    app: ReviewOpsApp
    twilio: tw.FakeTwilio
    notifier: RecordingNotifier
    ws: int
    clock: FrozenClock

    @property
    def ops(self) -> Any:
        return self.app.ops

    def create(self, **values: Any) -> Any:
        values.setdefault("name", "Jane Doe")
        values.setdefault("phone", PHONE)
        values.setdefault("method", "sms")
        return self.ops.create(self.ws, RequestCreate(**values), ALICE)

    def send_all(self) -> int:
        return int(self.app.dispatcher.run_until_idle())

    def messages(self, number: int) -> list[Message]:
        return list(self.ops.show(self.ws, number).messages)

    def message(self, number: int, index: int = 0) -> Message:
        return self.messages(number)[index]

    def events(self, number: int, kind: str | None = None) -> list[Event]:
        events = self.ops.show(self.ws, number).events
        return [e for e in events if kind is None or e.kind == kind]

    def changes(self, kind: str | None = None) -> list[Change]:
        return [c for _, c in self.notifier.changes if kind is None or c.kind == kind]

    def contact(self, phone: str = PHONE) -> Contact:
        with self.app.db.read() as session:
            return session.exec(select(Contact).where(Contact.phone == phone)).one()

    def sid(self, number: int, index: int = 0) -> str:
        sid = self.message(number, index).provider_id
        assert sid is not None
        return sid

    def apply_inbox(self) -> int:
        """Apply the status callbacks the route stored (what the web process's thread does)."""
        return self.app.inbox().inbox.apply_pending()

    def status_callback(self, sid: str, status: str, **values: Any) -> int:
        """Post a signed status callback from the fake Twilio, then apply the inbox."""
        answer = self.twilio.send_status_callback(sid, status, **values)
        self.apply_inbox()
        return answer

    def inbound(self, body: str, *, from_: str = PHONE) -> int:
        return self.twilio.send_inbound(from_, FROM, body, f"{self.url}/webhooks/twilio/inbound")


@contextmanager
def running(
    database_url: str,
    clock: FrozenClock,
    *,
    mailgun_signing_key: str | None = None,
    smtp_url: str | None = None,
    background_inbox: bool = False,
    environment: dict[str, str] | None = None,
    token_keys: str = "",
    **policy: Any,
) -> Iterator[Web]:
    """Run the real app (create_app, create_flask) against the fake Twilio over HTTP."""
    with tw.FakeTwilio(SID, TOKEN, now=clock.now) as twilio, serving() as (url, late):
        env: dict[str, Any] = {
            "DATABASE_URL": database_url,
            "PUBLIC_URL": url,
            "DEFAULT_REGION": "US",
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM": FROM,
            "TWILIO_API_URL": twilio.url,
            # Callbacks, not pacing, are tested here: several sends in one frozen instant
            # (tests/test_pacing.py holds the pace).
            "SENDER_RATES": f"{FROM}=off,smtp=off",
            "TOKEN_ENCRYPTION_KEYS": token_keys,  # secret settings sealed when set
        }
        if smtp_url:
            env |= {"SMTP_URL": smtp_url, "EMAIL_FROM": "shop@acme.example"}
        if mailgun_signing_key:
            env["MAILGUN_SIGNING_KEY"] = mailgun_signing_key
        env |= environment or {}
        settings = Settings(_env_file=None, **{k: v for k, v in env.items() if v})
        notifier = RecordingNotifier()
        app = create_app(settings, clock=clock, notifier=notifier)
        # Each test applies the inbox when it means to, unless it tests the web's own thread.
        app.inbox_in_background = background_inbox
        flask_app = create_flask(app)
        late.wsgi = flask_app.wsgi_app
        workspace = app.ops.ensure_workspace("T0001", "Acme")
        assert workspace.id is not None
        base = WorkspacePolicy.model_validate(workspace.policy)
        values = {
            "business_name": "Acme Bikes",
            "send_window": "always",
            "email_reply_to": "help@acme.example",
            "landing_url_service": "https://g.page/r/acme-service",
            "landing_url_product": "https://g.page/r/acme-product",
            "landing_urls": {"service.fr": "https://g.page/r/acme-service-fr"},
            **policy,
        }
        app.ops.update_policy(
            workspace.id,
            WorkspacePolicy.model_validate({**base.model_dump(), **values}),
            ALICE,
        )
        try:
            yield Web(url, app, twilio, notifier, workspace.id, clock)
        finally:
            app.close()
            assert twilio.validation_errors == []


@pytest.fixture
def web(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    with running(database_url, clock, cooldown_days=0) as served:
        yield served


def sent_sms(web: Web, **values: Any) -> tuple[int, str]:
    request = web.create(**values)
    assert web.send_all() >= 1
    return request.number, web.sid(request.number)


# --- status callbacks ------------------------------------------------------------------------


def test_status_callback_url_is_ours_and_delivery_reaches_the_thread(web: Web) -> None:
    number, sid = sent_sms(web)
    assert web.twilio.messages[0]["StatusCallback"] == f"{web.url}/webhooks/twilio/status"
    web.clock.advance(timedelta(seconds=5))
    assert web.status_callback(sid, "sent") == 200
    web.clock.advance(timedelta(seconds=5))
    assert web.status_callback(sid, "delivered") == 200
    message = web.message(number)
    assert message.status == "delivered"
    assert message.delivered_at == web.clock.now()
    detail = web.ops.show(web.ws, number)
    assert detail.request.status == "delivered"
    assert detail.request.delivered_at == web.clock.now()
    assert [e.actor for e in web.events(number, "delivered")] == ["twilio"]
    assert [c.text for c in web.changes("delivered")] == ["SMS delivered"]
    assert not any(c.alert for c in web.changes("delivered"))


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        ("undelivered", 30003, "Unreachable destination handset"),
        ("undelivered", 30005, "Unknown destination handset"),
        ("failed", 30006, "Landline or unreachable carrier"),
        ("undelivered", 30007, "Filtered as spam by the carrier"),
        ("failed", 30008, "Unknown error"),
    ],
)
def test_failures_keep_code_and_readable_reason_and_alert(
    web: Web, status: str, code: int, reason: str
) -> None:
    number, sid = sent_sms(web)
    web.status_callback(sid, "sent")
    assert web.status_callback(sid, status, error_code=code) == 200
    message = web.message(number)
    assert (message.status, message.error_code, message.error_reason) == (status, str(code), reason)
    assert web.ops.show(web.ws, number).request.last_error == reason
    [change] = web.changes(status)
    assert change.alert and reason in change.text and str(code) in change.text
    # A later report never clears or replaces the stored error; `failed` outranks `undelivered`.
    web.status_callback(sid, "failed", error_code=30001)
    web.status_callback(sid, "delivered")
    message = web.message(number)
    assert (message.status, message.error_code, message.error_reason) == (
        "failed",
        str(code),
        reason,
    )


def test_duplicates_apply_once(web: Web) -> None:
    number, sid = sent_sms(web)
    assert web.status_callback(sid, "delivered", idempotency_token="tok-1") == 200
    # Twilio's retry (same token), and a repeat of the same status under a new token.
    assert web.status_callback(sid, "delivered", idempotency_token="tok-1") == 200
    assert web.status_callback(sid, "delivered", idempotency_token="tok-2") == 200
    assert len(web.events(number, "delivered")) == 1
    assert len(web.changes("delivered")) == 1
    assert web.events(number, "delivered")[0].dedup_key == f"twilio:{sid}:delivered"


def test_reversed_order_never_moves_backwards(web: Web) -> None:
    number, sid = sent_sms(web)
    for status in ("read", "delivered", "sent", "sending", "queued", "accepted"):
        assert web.status_callback(sid, status) == 200
    assert web.message(number).status == "read"
    assert web.ops.show(web.ws, number).request.status == "read"
    # "delivered" after "read" only stamps delivered_at; "sent" and earlier change nothing.
    from_callbacks = [
        e.kind for e in web.events(number) if (e.dedup_key or "").startswith("twilio:")
    ]
    assert from_callbacks == ["read", "delivered"]
    assert web.message(number).delivered_at is not None


def test_forged_or_missing_signature_changes_nothing(web: Web) -> None:
    number, sid = sent_sms(web)
    before = len(web.events(number))
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": SID, "To": PHONE}
    url = f"{web.url}/webhooks/twilio/status"
    forged = tw.sign_request("not-the-token", url, params)
    wrong_params = tw.sign_request(TOKEN, url, {**params, "MessageStatus": "sent"})
    for headers in ({"X-Twilio-Signature": forged}, {"X-Twilio-Signature": wrong_params}, {}):
        response = requests.post(url, data=params, headers=headers, timeout=5)
        assert response.status_code == 403
    inbound = {"MessageSid": "SMx", "From": PHONE, "To": FROM, "Body": "STOP"}
    inbound_url = f"{web.url}/webhooks/twilio/inbound"
    response = requests.post(
        inbound_url,
        data=inbound,
        headers={"X-Twilio-Signature": tw.sign_request("nope", inbound_url, inbound)},
        timeout=5,
    )
    assert response.status_code == 403
    assert web.message(number).status == "sent"
    assert len(web.events(number)) == before
    assert web.contact().phone_opted_out_at is None


def test_signature_checked_against_public_url_with_query(
    database_url: str, clock: FrozenClock
) -> None:
    # Behind a TLS proxy the app is reached on http://127.0.0.1 but Twilio signed https://public.
    with running(database_url, clock) as web, serving() as (local, late):
        public = "https://reviews.example.test"
        proxied = Flask("proxied")
        register_webhooks(
            proxied, web.app, twilio_auth_token=TOKEN, mailgun_signing_key=None, public_url=public
        )
        late.wsgi = proxied.wsgi_app
        number, sid = sent_sms(web)
        params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": SID, "To": PHONE}
        path = "/webhooks/twilio/status?ws=T0001&b=1"
        signature = tw.sign_request(TOKEN, public + path, params)
        local_signature = tw.sign_request(TOKEN, local + path, params)
        refused = requests.post(
            local + path, data=params, headers={"X-Twilio-Signature": local_signature}, timeout=5
        )
        assert refused.status_code == 403
        assert web.message(number).status == "sent"
        accepted = requests.post(
            local + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=5
        )
        assert accepted.status_code == 200
        assert web.apply_inbox() == 1
        assert web.message(number).status == "delivered"


def test_failed_sms_falls_back_to_email_once(web: Web) -> None:
    request = web.create(method="sms_or_email", email="jane@example.com")
    web.send_all()
    sid = web.sid(request.number)
    web.status_callback(sid, "failed", error_code=30006)
    web.status_callback(sid, "failed", error_code=30006, idempotency_token="again")
    web.status_callback(sid, "undelivered", error_code=30003)
    messages = web.messages(request.number)
    assert [(m.channel, m.kind) for m in messages] == [("sms", "initial"), ("email", "fallback")]
    assert len(web.changes("fallback")) == 1
    assert web.send_all() == 1  # the email goes out (console sender: no SMTP configured)
    detail = web.ops.show(web.ws, request.number)
    assert [m.status for m in detail.messages] == ["failed", "sent"]
    assert detail.request.status == "sent"  # the best of its messages
    assert detail.request.channel == "sms+email"  # "sent via" tells both
    with web.app.db.read() as session:
        by_email = list_requests(session, web.ws, HistoryFilter(channel="email"), limit=10)
    assert [r.number for r in by_email.rows] == [request.number]


def test_sms_and_email_shows_the_best_of_both(web: Web) -> None:
    request = web.create(method="sms_and_email", email="jane@example.com")
    web.send_all()
    sid = web.sid(request.number)
    web.status_callback(sid, "undelivered", error_code=30003)
    detail = web.ops.show(web.ws, request.number)
    assert sorted(m.status for m in detail.messages) == ["sent", "undelivered"]
    assert detail.request.status == "sent"
    assert not any(m.kind == "fallback" for m in detail.messages)


def test_stop_error_code_in_callback_opts_out(web: Web) -> None:
    number, sid = sent_sms(web)
    web.status_callback(sid, "failed", error_code=21610)
    assert web.message(number).status == "unsubscribed"
    assert web.contact().phone_opted_out_at is not None
    # One opt-out, one alert: the opt-out rule's, not a second one for the status.
    assert [c.kind for n, c in web.notifier.changes if n == number and c.alert] == ["opted_out"]


def test_callback_resolves_a_send_whose_answer_was_lost(web: Web) -> None:
    web.clock.set(NANP_EVENING)
    request = web.create(phone=tw.SCENARIO_SERVER_ERROR_ACCEPTED)
    web.send_all()
    assert web.message(request.number).status == "unknown"
    assert web.message(request.number).provider_id is None
    [stored] = web.twilio.accepted
    assert web.status_callback(stored["sid"], "delivered") == 200
    message = web.message(request.number)
    assert (message.status, message.provider_id) == ("delivered", stored["sid"])


# --- inbound ---------------------------------------------------------------------------------


def test_stop_opts_out_cancels_queued_and_nothing_is_sent_by_any_path(web: Web) -> None:
    failed = web.create()
    web.send_all()
    web.status_callback(web.sid(failed.number), "undelivered", error_code=30003)
    later = web.create(when="delay", delay=timedelta(days=1))
    whatsapp = web.create(method="whatsapp", when="delay", delay=timedelta(days=2))
    claimed_too = web.create(when="now")
    claims = web.app.dispatcher.claim_due()  # a worker holds this one as STOP arrives
    assert len(claims) == 1
    sent_before = len(web.twilio.messages)

    assert web.inbound("  Stop ") == 200
    assert web.twilio.webhooks[-1].body.endswith("<Response/>")

    assert web.contact().phone_opted_out_at == web.clock.now()
    for number in (later.number, whatsapp.number):
        message = web.message(number)
        assert message.status == "canceled"
        assert message.error_reason == "The customer replied STOP"
    [alert] = web.changes("opted_out")
    assert alert.alert and "opted out" in alert.text
    # The dispatcher's own check stops the row it had claimed before the STOP.
    assert web.app.dispatcher.start_sending(claims[0]) is None
    assert web.message(claimed_too.number).status == "canceled"
    # Create and resend refuse; time passing sends nothing.
    with pytest.raises(InvalidInput, match="opted out"):
        web.create()
    with pytest.raises(NotAllowed, match="opted out"):
        web.ops.resend(web.ws, failed.number, ALICE)
    web.clock.advance(timedelta(days=10))
    assert web.send_all() == 0
    assert len(web.twilio.messages) == sent_before


@pytest.mark.parametrize(
    "word", ["STOPALL", "unsubscribe", "End", "QUIT", "revoke", "OPTOUT", "cancel"]
)
def test_every_opt_out_keyword(web: Web, word: str) -> None:
    sent_sms(web)  # a text back belongs to the workspaces that sent to the number
    assert web.inbound(word) == 200
    assert web.contact().phone_opted_out_at is not None


def test_start_opts_back_in(web: Web) -> None:
    sent_sms(web)
    web.inbound("STOP")
    assert web.contact().phone_opted_out_at is not None
    assert web.inbound("unstop") == 200
    assert web.contact().phone_opted_out_at is None
    assert len(web.changes("opted_in")) == 1
    web.create()  # allowed again
    assert web.send_all() == 1


def test_help_is_answered_with_twiml(web: Web) -> None:
    sent_sms(web)
    url = f"{web.url}/webhooks/twilio/inbound"
    params = {"MessageSid": "SM" + "a" * 32, "From": PHONE, "To": FROM, "Body": "help"}
    response = requests.post(
        url,
        data=params,
        headers={"X-Twilio-Signature": tw.sign_request(TOKEN, url, params)},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    assert "Acme Bikes" in response.text and "help@acme.example" in response.text
    assert web.contact().phone_opted_out_at is None


def test_free_text_reply_lands_in_the_thread_once(web: Web) -> None:
    number, _ = sent_sms(web)
    assert web.inbound("Thanks, it was great & quick!") == 200
    assert web.twilio.webhooks[-1].body.endswith("<Response/>")
    [change] = web.changes("reply")
    assert change.text == "Jane Doe replied: Thanks, it was great & quick!"
    [event] = web.events(number, "reply")
    assert event.detail["text"] == "Thanks, it was great & quick!"
    # The same inbound message delivered twice is told once.
    url = f"{web.url}/webhooks/twilio/inbound"
    params = dict(web.twilio.webhooks[-1].params)
    for _ in range(2):
        response = requests.post(
            url,
            data=params,
            headers={"X-Twilio-Signature": tw.sign_request(TOKEN, url, params)},
            timeout=5,
        )
        assert response.status_code == 200
    assert len(web.changes("reply")) == 1


def test_reply_from_an_unknown_number_is_answered_empty(web: Web) -> None:
    assert web.inbound("hello?", from_="+33615550199") == 200
    assert web.twilio.webhooks[-1].body.endswith("<Response/>")
    assert web.changes("reply") == []
    with web.app.db.read() as session:
        assert session.exec(select(Event).where(col(Event.kind) == "reply")).all() == []


def test_send_time_refusal_falls_back_by_the_same_rule(web: Web) -> None:
    web.clock.set(NANP_EVENING)
    request = web.create(phone=tw.SCENARIO_INVALID, method="sms_or_email", email="j@example.com")
    assert web.send_all() == 2  # the refused SMS, then the fallback email
    detail = web.ops.show(web.ws, request.number)
    assert [(m.channel, m.kind, m.status) for m in detail.messages] == [
        ("sms", "initial", "failed"),
        ("email", "fallback", "sent"),
    ]
    assert len(web.changes("fallback")) == 1


# --- one opt-out rule, whoever learns of it --------------------------------------------------

OTHER_PHONE = "+33615550123"


@pytest.mark.parametrize("learned_by", ["inbound STOP", "21610 at send time"])
def test_an_opt_out_follows_one_rule_whoever_learns_it(web: Web, learned_by: str) -> None:
    phone = tw.SCENARIO_UNSUBSCRIBED if learned_by == "21610 at send time" else PHONE
    if phone == tw.SCENARIO_UNSUBSCRIBED:
        web.clock.set(NANP_EVENING)
    later = timedelta(days=1)
    elsewhere = web.create(name="Bob", phone=OTHER_PHONE, email="bob@example.com", delay=later)
    # Found by its email, Bob's contact keeps his own number: this SMS goes to `phone`
    # under another contact than the one who opts out.
    stray = web.create(name="Bob", phone=phone, email="bob@example.com", delay=2 * later)
    opting = web.create(phone=phone, when="now")
    web.send_all()
    if learned_by == "inbound STOP":
        assert web.inbound("STOP", from_=phone) == 200

    assert web.contact(phone).phone_opted_out_at == web.clock.now()
    [event] = web.events(opting.number, "opted_out")
    assert event.detail["channels"] == ["sms", "whatsapp"]
    assert web.message(opting.number).status == "unsubscribed"
    assert web.message(stray.number).status == "canceled"
    assert web.message(elsewhere.number).status == "queued"
    [alert] = web.changes("opted_out")
    assert alert.alert
    # One opt-out, one alert for the managers, whoever learned of it.
    assert [c.kind for n, c in web.notifier.changes if n == opting.number and c.alert] == [
        "opted_out"
    ]
    sent_before = len(web.twilio.messages)
    web.clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))  # days later, 11:00 in Paris
    web.send_all()
    assert [m["To"] for m in web.twilio.messages[sent_before:]] == [OTHER_PHONE]
