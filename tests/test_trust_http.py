"""The HTTP edge: bounded bodies on every route, Slack's signature before any parsing, 400 not 500.

Requests go to the real app over HTTP (the Slack harness, the webhook app), some through a raw
socket so that what the server did NOT read can be shown: an answer that arrives while the
client still holds most of the body back proves the server stopped reading.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests

from bot.clock import FrozenClock
from bot.http_limits import DEFAULT_LIMIT, ROUTE_LIMITS, limit_for
from bot.log_redaction import redact_handlers
from tests.slack_harness import (  # noqa: F401
    SIGNING_SECRET,
    TEAM_ID,
    USER,
    SlackHarness,
    slack_fixture,
    text_of,
)
from tests.test_webhooks_email import KEY, signature
from tests.test_webhooks_twilio import Web, running


def raw_post(url: str, head: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """Send a request's headers and `body` (maybe only part of what they announce); read the answer.

    The socket stays open: the server answers without waiting for the rest, or the read times out.
    """
    parts = urlsplit(url)
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in head.items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def slack_headers(body: bytes, *, age: int = 0, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's v0 signature of the raw bytes (tests.slack_harness.sign takes text)."""
    ts = int(time.time()) - age
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }


def post_slack(slack: SlackHarness, body: bytes, **signing: Any) -> requests.Response:
    headers = slack_headers(body, **signing)
    return requests.post(slack.url, data=body, headers=headers, timeout=10)


@pytest.fixture
def web(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    with running(database_url, clock, mailgun_signing_key=KEY) as served:
        yield served


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> bool:
    return not any(r.exc_info for r in caplog.records) and not any(
        r.levelno >= logging.ERROR for r in caplog.records
    )


# --- one body-size rule ------------------------------------------------------------------------


def test_every_route_group_has_its_maximum() -> None:
    assert limit_for("/slack/events").max_bytes == 1024 * 1024
    assert limit_for("/webhooks/twilio/status").max_bytes == 64 * 1024
    assert limit_for("/webhooks/twilio/inbound").max_bytes == 64 * 1024
    assert limit_for("/webhooks/email/mailgun").max_bytes == 256 * 1024
    assert limit_for("/u/some-token").max_bytes == 4 * 1024
    assert limit_for("/anything/else") == DEFAULT_LIMIT


@pytest.mark.parametrize(
    "path",
    ["/slack/events", "/webhooks/twilio/inbound", "/webhooks/email/mailgun", "/u/tok", "/r/tok"],
)
def test_an_announced_body_over_the_maximum_is_refused_before_it_is_sent(
    slack: SlackHarness, path: str
) -> None:
    url = slack.url.replace("/slack/events", path)
    over = limit_for(path).max_bytes + 1
    # 100 MB announced, 10 bytes sent: the 413 comes back without the server reading the rest.
    head = {"Content-Length": str(100 * 1024 * 1024), "Content-Type": "application/json"}
    assert raw_post(url, head, b"0123456789")[0] == 413
    head["Content-Length"] = str(over)
    assert raw_post(url, head, b"x" * 10)[0] == 413


@pytest.mark.parametrize("limit", ROUTE_LIMITS, ids=[r.prefix for r in ROUTE_LIMITS])
def test_a_chunked_body_is_refused_one_byte_past_the_maximum(
    slack: SlackHarness, limit: Any
) -> None:
    path = {"/slack/": "/slack/events", "/u/": "/u/tok"}.get(limit.prefix, limit.prefix + "x")
    url = slack.url.replace("/slack/events", path)
    head = {"Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"}
    # The maximum plus one byte, and no last chunk: only a server that stops reading answers.
    body = chunk(b"a" * limit.max_bytes) + chunk(b"b")
    assert raw_post(url, head, body)[0] == 413


def test_a_chunked_signed_command_within_the_maximum_is_served(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    response_url = slack.fake.new_response_url()
    form = {
        "team_id": TEAM_ID,
        "user_id": USER,
        "channel_id": "C0SALES",
        "command": "/reviews",
        "text": "show #1",
        "response_url": response_url,
        "trigger_id": slack.fake.issue_trigger_id(),
    }
    body = urlencode(form).encode()
    pieces = iter([body[:10], body[10:]])  # requests sends an iterator chunked
    answer = requests.post(slack.url, data=pieces, headers=slack_headers(body), timeout=10)
    assert answer.status_code == 200
    assert "Jane Doe" in text_of(slack.answer(response_url))


# --- Slack: the signature first, then the shape ------------------------------------------------


@pytest.mark.parametrize(
    "signing",
    [
        {"headers": {}},
        {"headers": {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"}},
        {"secret": "not-the-signing-secret"},
        {"age": 10 * 60},  # a captured request replayed ten minutes later
        {"age": -10 * 60},
    ],
    ids=["unsigned", "stale-and-forged", "forged", "replayed", "from-the-future"],
)
def test_a_request_not_signed_by_slack_is_refused_before_its_body_is_read(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, signing: dict[str, Any]
) -> None:
    body = b"payload=not-json"  # a 400 or a 500 here would mean the body was parsed
    if "headers" in signing:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **signing["headers"]}
        answer = requests.post(slack.url, data=body, headers=headers, timeout=10)
    else:
        answer = post_slack(slack, body, **signing)
    assert answer.status_code == 401
    assert any("refused a Slack request" in r.getMessage() for r in caplog.records)
    assert no_tracebacks(caplog)


def test_slacks_unsigned_ssl_check_alone_gets_an_empty_200(slack: SlackHarness) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    check = requests.post(slack.url, data=b"ssl_check=1&token=abc", headers=form, timeout=10)
    assert (check.status_code, check.text) == (200, "")
    smuggled = b"ssl_check=1&command=%2Freviews&team_id=T0001&user_id=U0ALICE&text=help"
    assert requests.post(slack.url, data=smuggled, headers=form, timeout=10).status_code == 401


VIEW = {"id": "V1", "callback_id": "send_request", "state": {"values": {}}}
MALFORMED = {
    "payload-not-json": b"payload=not-json",
    "payload-a-list": b"payload=" + quote(json.dumps([1, 2])).encode(),
    "no-type": b"payload=%7B%22user%22%3A%7B%22id%22%3A%22U1%22%7D%7D",
    "user-a-string": json.dumps({"type": "block_actions", "user": "U1", "actions": []}).encode(),
    "actions-not-objects": json.dumps(
        {"type": "block_actions", "user": {"id": "U1"}, "actions": ["x"]}
    ).encode(),
    "view-missing": json.dumps({"type": "view_submission", "user": {"id": "U1"}}).encode(),
    "values-a-string": json.dumps(
        {"type": "view_submission", "view": {**VIEW, "state": {"values": "x"}}}
    ).encode(),
    "authorizations-a-string": json.dumps(
        {"type": "event_callback", "event": {"type": "app_home_opened"}, "authorizations": "x"}
    ).encode(),
    "event-a-list": json.dumps({"type": "event_callback", "event": []}).encode(),
    "not-utf8": b"command=%2Freviews&text=\xff\xfe",
    "command-without-user": b"command=%2Freviews&team_id=T0001&text=help",
    "deeply-nested": b"payload=" + b"%5B" * 100_000,
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_signed_malformed_payload_is_answered_400_with_one_log_line(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    if body.startswith(b"{"):
        body = b"payload=" + quote(body.decode()).encode()
    answer = post_slack(slack, body)
    assert answer.status_code == 400
    warnings = [r for r in caplog.records if "not Slack's shape" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    assert no_tracebacks(caplog)
    assert slack.fake.responses == [] and slack.fake.all_posted() == []


def test_an_events_api_body_with_the_wrong_types_is_answered_400(slack: SlackHarness) -> None:
    body = json.dumps({"type": "event_callback", "team_id": 7, "event": {"type": "x"}}).encode()
    headers = slack_headers(body) | {"Content-Type": "application/json"}
    assert requests.post(slack.url, data=body, headers=headers, timeout=10).status_code == 400


def test_a_command_whose_text_says_payload_is_still_a_command(slack: SlackHarness) -> None:
    # Bolt's own reading took any form body containing "payload" for an interactivity payload.
    slack.post_command("list payload")
    assert "payload" in text_of(slack.answer())


# --- webhooks: malformed but signed ------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"event": "delivered", "message": "not an object"},
        {"event": "delivered", "message": {"headers": ["x"]}},
        {"event": "failed", "delivery-status": ["x"], "message": {"headers": {}}},
        {"event": ["delivered"], "severity": {"x": 1}, "message": {"headers": {"message-id": 5}}},
    ],
    ids=["message-a-string", "headers-a-list", "status-a-list", "fields-of-other-types"],
)
def test_a_signed_mailgun_event_of_the_wrong_shape_is_never_a_500(
    web: Web, caplog: pytest.LogCaptureFixture, data: dict[str, Any]
) -> None:
    payload = {"signature": signature(web), "event-data": data}
    answer = requests.post(f"{web.url}/webhooks/email/mailgun", json=payload, timeout=5)
    assert answer.status_code in (200, 400)
    assert no_tracebacks(caplog)


# --- no URL secret in our own log records ------------------------------------------------------


def test_log_records_holding_urls_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        redact_handlers(logger)
        logger.warning("fetched %s", "https://x.test/r/TOKEN1?utm=1")
        logger.warning("redirect /slack/oauth_redirect?state=S3CRET&code=C0DE&x=1")
        logger.warning("posted to /u/TOKEN2 and /o/TOKEN3.gif; kept /webhooks/twilio/status")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "fetched https://x.test/r/[redacted]?utm=1",
        "redirect /slack/oauth_redirect?state=[redacted]&code=[redacted]&x=1",
        "posted to /u/[redacted] and /o/[redacted]; kept /webhooks/twilio/status",
    ]
