"""TwilioSender through the real twilio SDK against the local Twilio stand-in, over real sockets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from bot.delivery.base import Outcome, OutgoingMessage, Sender
from bot.delivery.twilio import (
    FoundMessage,
    RedirectingHttpClient,
    TwilioQueryError,
    TwilioSender,
)
from bot.delivery.twilio_reports import twilio_error_reason
from tests.fakes.twilio_api import (
    RATE_LIMIT_RETRY_AFTER,
    SCENARIO_HANG,
    SCENARIO_INVALID,
    SCENARIO_NOT_MOBILE,
    SCENARIO_RATE_LIMITED,
    SCENARIO_SERVER_ERROR_ACCEPTED,
    SCENARIO_UNSUBSCRIBED,
    SCENARIO_WHATSAPP_WINDOW,
    FakeTwilio,
)

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
SMS_FROM = "+15005550006"
WHATSAPP_FROM = "+14155238886"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
CUSTOMER = "+33612345678"
CALLBACK = "https://reviews.example.com/webhooks/twilio/status"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def sender(fake: FakeTwilio) -> TwilioSender:
    return TwilioSender(
        ACCOUNT_SID,
        AUTH_TOKEN,
        api_url=fake.url,
        sms_from=SMS_FROM,
        whatsapp_from=WHATSAPP_FROM,
        timeout=5.0,
    )


def sms(to: str = CUSTOMER, **overrides: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "message_id": 1,
        "channel": "sms",
        "to": to,
        "body_text": "Thanks for visiting! Leave us a review: https://r.example.com/r/abc",
        "status_callback_url": CALLBACK,
    }
    fields.update(overrides)
    return OutgoingMessage(**fields)


def creates(fake: FakeTwilio) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/Messages.json")]


def test_sender_satisfies_the_port(sender: TwilioSender) -> None:
    port: Sender = sender
    assert port.name == "twilio"


def test_sms_is_accepted_and_twilio_gets_exactly_what_we_meant(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    result = sender.send(sms())

    assert result.outcome is Outcome.SENT
    assert result.provider == "twilio"
    assert result.provider_id is not None and result.provider_id.startswith("SM")
    assert len(result.provider_id) == 34
    posts = creates(fake)
    assert len(posts) == 1
    assert posts[0].path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert fake.messages == [
        {
            "To": CUSTOMER,
            "From": SMS_FROM,
            "Body": sms().body_text,
            "StatusCallback": CALLBACK,
        }
    ]
    stored = fake.message(result.provider_id)
    assert stored["status"] == "queued"
    assert stored["to"] == CUSTOMER
    assert fake.validation_errors == []


def test_whatsapp_prefixes_to_and_from(fake: FakeTwilio, sender: TwilioSender) -> None:
    result = sender.send(sms(channel="whatsapp"))

    assert result.outcome is Outcome.SENT
    [sent] = fake.messages
    assert sent["To"] == f"whatsapp:{CUSTOMER}"
    assert sent["From"] == f"whatsapp:{WHATSAPP_FROM}"
    assert sent["StatusCallback"] == CALLBACK
    assert fake.validation_errors == []


def test_messaging_service_replaces_from(fake: FakeTwilio) -> None:
    sender = TwilioSender(
        ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, messaging_service_sid=SERVICE_SID
    )

    result = sender.send(sms())

    assert result.outcome is Outcome.SENT
    [sent] = fake.messages
    assert sent["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in sent
    assert fake.message(result.provider_id or "")["status"] == "accepted"
    assert fake.validation_errors == []


def test_alphanumeric_sender_name_overrides_from(fake: FakeTwilio, sender: TwilioSender) -> None:
    assert sender.send(sms(sender_name="BISTRO")).outcome is Outcome.SENT
    service = TwilioSender(
        ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, messaging_service_sid=SERVICE_SID
    )
    assert service.send(sms(sender_name="BISTRO")).outcome is Outcome.SENT

    first, second = fake.messages
    assert first["From"] == "BISTRO"
    assert second["From"] == "BISTRO"
    assert second["MessagingServiceSid"] == SERVICE_SID
    assert fake.validation_errors == []


def test_no_status_callback_is_sent_when_none_is_given(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    assert sender.send(sms(status_callback_url=None)).outcome is Outcome.SENT
    assert "StatusCallback" not in fake.messages[0]


@pytest.mark.parametrize(
    ("to", "channel", "outcome", "code", "reason"),
    [
        (SCENARIO_INVALID, "sms", Outcome.FAILED, "21211", "Invalid phone number"),
        (
            SCENARIO_NOT_MOBILE,
            "sms",
            Outcome.FAILED,
            "21614",
            "Not a mobile number: can't receive SMS",
        ),
        (
            SCENARIO_WHATSAPP_WINDOW,
            "whatsapp",
            Outcome.FAILED,
            "63016",
            "WhatsApp: outside the 24-hour window, a template message is required",
        ),
        (
            SCENARIO_UNSUBSCRIBED,
            "sms",
            Outcome.OPTED_OUT,
            "21610",
            "The customer replied STOP to this number",
        ),
    ],
)
def test_refusals_map_to_outcomes(
    fake: FakeTwilio,
    sender: TwilioSender,
    to: str,
    channel: str,
    outcome: Outcome,
    code: str,
    reason: str,
) -> None:
    result = sender.send(sms(to=to, channel=channel))

    assert (result.outcome, result.error_code, result.reason) == (outcome, code, reason)
    assert result.provider_id is None
    assert len(creates(fake)) == 1
    assert fake.accepted == []
    assert fake.validation_errors == []


def test_whatsapp_window_only_applies_to_whatsapp(sender: TwilioSender) -> None:
    assert sender.send(sms(to=SCENARIO_WHATSAPP_WINDOW)).outcome is Outcome.SENT


def test_rate_limit_asks_to_retry_after_twilios_delay(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    result = sender.send(sms(to=SCENARIO_RATE_LIMITED))

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "20429"
    assert result.retry_after_seconds == RATE_LIMIT_RETRY_AFTER
    assert fake.accepted == []


def test_other_client_errors_fail_with_twilios_code_and_message(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    result = sender.send(sms(body_text="x" * 1601))

    assert result.outcome is Outcome.FAILED
    assert result.error_code == "21617"
    assert result.reason == "The concatenated message body exceeds the 1600 character limit."
    # The stand-in lists it because Twilio would reject it: that is the point of this test.
    assert len(fake.validation_errors) == 1


def test_server_error_after_accepting_is_unknown_and_twilio_kept_the_message(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    result = sender.send(sms(to=SCENARIO_SERVER_ERROR_ACCEPTED))

    assert result.outcome is Outcome.UNKNOWN
    assert result.error_code == "20500"
    assert len(creates(fake)) == 1
    [kept] = fake.accepted
    assert kept["to"] == SCENARIO_SERVER_ERROR_ACCEPTED


def test_no_answer_in_time_is_unknown_and_twilio_kept_the_message(fake: FakeTwilio) -> None:
    impatient = TwilioSender(
        ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, sms_from=SMS_FROM, timeout=0.5
    )

    result = impatient.send(sms(to=SCENARIO_HANG))

    assert result.outcome is Outcome.UNKNOWN
    assert "ReadTimeout" in (result.reason or "")
    [kept] = fake.accepted
    assert kept["to"] == SCENARIO_HANG


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_connection_refused_is_retried() -> None:
    sender = TwilioSender(
        ACCOUNT_SID,
        AUTH_TOKEN,
        api_url=f"http://127.0.0.1:{closed_port()}",
        sms_from=SMS_FROM,
    )

    result = sender.send(sms())

    assert result.outcome is Outcome.RETRY
    assert result.provider_id is None


def test_unknown_host_is_retried() -> None:
    sender = TwilioSender(
        ACCOUNT_SID, AUTH_TOKEN, api_url="http://twilio-stand-in.invalid", sms_from=SMS_FROM
    )

    assert sender.send(sms()).outcome is Outcome.RETRY


@contextmanager
def resetting_server() -> Iterator[tuple[str, list[bytes]]]:
    """Accept one request, read it whole, then reset the connection without answering."""
    received: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += conn.recv(65536)
        received.append(head + b"\r\n\r\n" + body)
        # SO_LINGER 0: close sends RST, as a proxy or Twilio's edge dropping us would.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        thread.join(timeout=5)
        listener.close()


def test_connection_reset_after_sending_is_unknown() -> None:
    with resetting_server() as (url, received):
        sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_url=url, sms_from=SMS_FROM)
        result = sender.send(sms())

    assert result.outcome is Outcome.UNKNOWN
    assert "ConnectionError" in (result.reason or "")
    assert len(received) == 1
    assert b"POST /2010-04-01/Accounts/" in received[0]


def test_bad_credentials_fail_without_sending(fake: FakeTwilio) -> None:
    sender = TwilioSender(ACCOUNT_SID, "wrong-token", api_url=fake.url, sms_from=SMS_FROM)

    result = sender.send(sms())

    assert result.outcome is Outcome.FAILED
    assert result.error_code == "20003"
    assert "TWILIO_AUTH_TOKEN" in (result.reason or "")
    assert [r.status for r in fake.requests] == [401]
    assert fake.messages == []


def test_missing_sender_configuration_fails_before_calling_twilio(fake: FakeTwilio) -> None:
    bare = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url)

    for channel in ("sms", "whatsapp", "email"):
        result = bare.send(sms(channel=channel))
        assert result.outcome is Outcome.FAILED
        assert result.reason

    assert fake.requests == []


def test_invalid_raw_request_is_rejected_by_the_openapi_check(fake: FakeTwilio) -> None:
    response = requests.post(
        f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"From": SMS_FROM, "Body": "no recipient"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["code"] == 21604
    assert response.json()["more_info"] == "https://www.twilio.com/docs/errors/21604"
    [problem] = fake.validation_errors
    assert "'To' is a required property" in problem


def test_spec_pattern_violations_are_rejected(fake: FakeTwilio) -> None:
    response = requests.post(
        f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"To": CUSTOMER, "Body": "hi", "MessagingServiceSid": "MG123"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )

    assert response.status_code == 400
    [problem] = fake.validation_errors
    assert "MG123" in problem
    assert fake.accepted == []


def test_rules_the_spec_cannot_express_are_enforced(fake: FakeTwilio) -> None:
    url = f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    auth = (ACCOUNT_SID, AUTH_TOKEN)

    no_sender = requests.post(url, data={"To": CUSTOMER, "Body": "hi"}, auth=auth, timeout=5)
    no_body = requests.post(url, data={"To": CUSTOMER, "From": SMS_FROM}, auth=auth, timeout=5)
    mixed = requests.post(
        url,
        data={"To": f"whatsapp:{CUSTOMER}", "From": SMS_FROM, "Body": "hi"},
        auth=auth,
        timeout=5,
    )

    assert [r.json()["code"] for r in (no_sender, no_body, mixed)] == [21603, 21602, 21910]
    assert len(fake.validation_errors) == 3
    assert fake.accepted == []


class MutableClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_find_messages_lists_a_recipients_messages_in_a_time_range() -> None:
    clock = MutableClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, now=clock) as fake:
        sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, sms_from=SMS_FROM)
        sids = []
        for minutes, to in [(0, CUSTOMER), (5, CUSTOMER), (6, "+33698765432"), (7, CUSTOMER)]:
            clock.now = datetime(2026, 11, 23, 10, minutes, tzinfo=UTC)
            result = sender.send(sms(to=to, body_text=f"hello {minutes}"))
            sids.append(result.provider_id)
        clock.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
        sender.send(sms(body_text="next day"))

        found = sender.find_messages(
            CUSTOMER,
            datetime(2026, 11, 23, 10, 1, tzinfo=UTC),
            datetime(2026, 11, 23, 10, 30, tzinfo=UTC),
            page_size=1,
        )

        assert [m.sid for m in found] == [sids[3], sids[1]]  # newest first
        assert found[0] == FoundMessage(
            sid=sids[3] or "",
            status="queued",
            to=CUSTOMER,
            body="hello 7",
            date_created=datetime(2026, 11, 23, 10, 7, tzinfo=UTC),
            error_code=None,
        )
        lists = [r for r in fake.requests if r.method == "GET"]
        assert len(lists) >= 2  # page_size=1 made the SDK follow next_page_uri
        assert lists[0].query["To"] == [CUSTOMER]
        assert lists[0].query["DateSent>"] == ["2026-11-23T10:01:00Z"]
        assert lists[0].query["DateSent<"] == ["2026-11-23T10:30:00Z"]
        assert fake.validation_errors == []


def test_find_messages_converts_local_times_to_utc() -> None:
    clock = MutableClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    new_york = timezone(timedelta(hours=-5))
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, now=clock) as fake:
        sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, sms_from=SMS_FROM)
        sender.send(sms())

        found = sender.find_messages(
            CUSTOMER,
            datetime(2026, 11, 23, 4, 55, tzinfo=new_york),
            datetime(2026, 11, 23, 5, 5, tzinfo=new_york),
        )

        assert len(found) == 1
        [listing] = [r for r in fake.requests if r.method == "GET"]
        assert listing.query["DateSent>"] == ["2026-11-23T09:55:00Z"]
        assert fake.validation_errors == []


def test_find_messages_on_whatsapp(fake: FakeTwilio, sender: TwilioSender) -> None:
    sent = sender.send(sms(channel="whatsapp"))
    now = datetime.now(UTC)

    found = sender.find_messages(
        CUSTOMER, now - timedelta(minutes=1), now + timedelta(minutes=1), channel="whatsapp"
    )

    assert [m.sid for m in found] == [sent.provider_id]
    assert found[0].to == f"whatsapp:{CUSTOMER}"


def test_fetch_status_follows_twilio(fake: FakeTwilio, sender: TwilioSender) -> None:
    sid = sender.send(sms()).provider_id or ""
    fake.set_status(sid, "undelivered", error_code=30003)

    found = sender.fetch_status(sid)

    assert (found.sid, found.status, found.error_code) == (sid, "undelivered", "30003")
    assert twilio_error_reason(found.error_code) == "Unreachable destination handset"


def test_fetch_status_of_an_unknown_sid_raises_a_query_error(sender: TwilioSender) -> None:
    with pytest.raises(TwilioQueryError) as caught:
        sender.fetch_status("SM" + "0" * 32)
    assert caught.value.status == 404
    assert caught.value.code == 20404


def test_lookups_without_twilio_raise_a_query_error() -> None:
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_url=f"http://127.0.0.1:{closed_port()}")
    now = datetime.now(UTC)

    with pytest.raises(TwilioQueryError):
        sender.find_messages(CUSTOMER, now, now)
    with pytest.raises(TwilioQueryError):
        sender.fetch_status("SM" + "0" * 32)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (30003, "Unreachable destination handset"),
        ("30005", "Unknown destination handset"),
        (30006, "Landline or unreachable carrier"),
        (30007, "Filtered as spam by the carrier"),
        (30008, "Unknown error"),
        (21610, "The customer replied STOP to this number"),
        (99999, "Twilio error 99999"),
        ("not-a-code", "Twilio error not-a-code"),
        (None, "Unknown error"),
    ],
)
def test_twilio_error_reason(code: int | str | None, reason: str) -> None:
    assert twilio_error_reason(code) == reason


def test_redirecting_client_rewrites_twilio_hosts_only() -> None:
    client = RedirectingHttpClient("http://127.0.0.1:8080/proxy/", timeout=1.0)

    assert (
        client.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?Page=1")
        == "http://127.0.0.1:8080/proxy/2010-04-01/Accounts/AC1/Messages.json?Page=1"
    )
    assert (
        client.rewrite("https://api.dublin.ie1.twilio.com/2010-04-01/x.json")
        == "http://127.0.0.1:8080/proxy/2010-04-01/x.json"
    )
    assert client.rewrite("https://example.com/x") == "https://example.com/x"
    default = RedirectingHttpClient()
    assert default.rewrite("https://api.twilio.com/a") == "https://api.twilio.com/a"


# -- signed webhooks from the stand-in --------------------------------------------------------


@dataclass
class Received:
    path: str
    form: dict[str, str]
    headers: dict[str, str]
    valid_signature: bool


@dataclass
class Receiver:
    url: str
    posts: list[Received] = field(default_factory=list)


@contextmanager
def webhook_receiver(auth_token: str) -> Iterator[Receiver]:
    """Receive webhooks and check X-Twilio-Signature the way the app must."""
    validator = RequestValidator(auth_token)
    receiver = Receiver(url="")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        form = request.form.to_dict()
        valid = validator.validate(request.url, form, request.headers.get("X-Twilio-Signature", ""))
        receiver.posts.append(Received(request.path, form, dict(request.headers), valid))
        return Response(status=204 if valid else 403)(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    receiver.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_status_callbacks_are_signed_like_twilios(fake: FakeTwilio) -> None:
    with webhook_receiver(AUTH_TOKEN) as receiver:
        callback = f"{receiver.url}/webhooks/twilio/status"
        sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, sms_from=SMS_FROM)
        sid = sender.send(sms(status_callback_url=callback)).provider_id or ""

        assert fake.send_status_callback(sid, "sent", idempotency_token="tok-1") == 204
        assert fake.send_status_callback(sid, "sent", idempotency_token="tok-1") == 204
        assert fake.send_status_callback(sid, "undelivered", error_code=30003) == 204

    first, duplicate, failed = receiver.posts
    assert first.valid_signature and duplicate.valid_signature and failed.valid_signature
    assert first.path == "/webhooks/twilio/status"
    assert first.form == {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": SMS_FROM,
        "To": CUSTOMER,
        "MessageStatus": "sent",
        "SmsStatus": "sent",
        "ApiVersion": "2010-04-01",
    }
    assert first.headers["I-Twilio-Idempotency-Token"] == "tok-1"
    assert duplicate.headers["I-Twilio-Idempotency-Token"] == "tok-1"
    assert failed.headers["I-Twilio-Idempotency-Token"] != "tok-1"
    assert failed.form["ErrorCode"] == "30003"
    assert fake.message(sid)["status"] == "undelivered"
    assert fake.message(sid)["error_code"] == 30003


def test_callbacks_signed_with_another_token_do_not_verify(fake: FakeTwilio) -> None:
    with webhook_receiver("another-token") as receiver:
        sid = fake_send(fake)
        status = fake.send_status_callback(
            sid, "delivered", url=f"{receiver.url}/webhooks/twilio/status"
        )

    assert status == 403
    assert receiver.posts[0].valid_signature is False


def fake_send(fake: FakeTwilio) -> str:
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, sms_from=SMS_FROM)
    return sender.send(sms(status_callback_url=None)).provider_id or ""


def test_status_callback_needs_a_url(fake: FakeTwilio) -> None:
    sid = fake_send(fake)
    with pytest.raises(ValueError, match="StatusCallback"):
        fake.send_status_callback(sid, "delivered")


def test_inbound_messages_are_signed_like_twilios(fake: FakeTwilio) -> None:
    with webhook_receiver(AUTH_TOKEN) as receiver:
        status = fake.send_inbound(
            CUSTOMER, SMS_FROM, "STOP", f"{receiver.url}/webhooks/twilio/inbound"
        )

    assert status == 204
    [post] = receiver.posts
    assert post.valid_signature
    assert post.form["From"] == CUSTOMER
    assert post.form["To"] == SMS_FROM
    assert post.form["Body"] == "STOP"
    assert post.form["AccountSid"] == ACCOUNT_SID
    assert post.form["NumMedia"] == "0"
    assert post.form["MessageSid"].startswith("SM")
    assert fake.webhooks[0].status == 204


def test_twilio_edge_and_region_variables_do_not_reroute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")

    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, sms_from=SMS_FROM)

    url = "https://api.twilio.com/2010-04-01/Accounts.json"
    assert sender.client.get_hostname(url) == url
