"""OpenTelemetry spans of one request: slash command, create, send to Twilio, status, thread.

The real app behind HTTP, the fake Slack and the fake Twilio; spans are recorded by the SDK's
in-memory exporter, and every span carries the request's number (or the provider's id) so a
trace backend can join what happened in different processes and moments.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot import tracing
from bot.app import create_app
from bot.clock import FrozenClock
from bot.domain.policy import WorkspacePolicy
from bot.server import create_flask
from bot.settings import Settings
from bot.slack import install_slack
from tests.fakes import twilio_api as tw
from tests.fakes.slack_api import FakeSlack
from tests.helpers import ALICE
from tests.slack_harness import CHANNEL, SIGNING_SECRET, TEAM_ID, USER, sign
from tests.test_webhooks_twilio import FROM, SID, TOKEN, serving


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)
        provider.shutdown()


def _command(url: str, fake: FakeSlack, text: str) -> requests.Response:
    body = urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": USER,
            "user_name": "alice",
            "command": "/reviews",
            "text": text,
            "api_app_id": fake.app_id,
            "response_url": fake.new_response_url(),
            "trigger_id": fake.issue_trigger_id(),
        }
    )
    ts = int(time.time())  # Slack's signatures are wall-clock time
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
    }
    return requests.post(f"{url}/slack/events", data=body, headers=headers, timeout=10)


def _attributes(exporter: InMemorySpanExporter, name: str) -> list[dict[str, Any]]:
    return [dict(s.attributes or {}) for s in exporter.get_finished_spans() if s.name == name]


def test_one_send_is_followed_from_slack_to_twilio_and_back_to_the_thread(
    database_url: str, clock: FrozenClock, spans: InMemorySpanExporter
) -> None:
    with (
        FakeSlack() as fake,
        tw.FakeTwilio(SID, TOKEN, now=clock.now) as twilio,
        serving() as (url, late),
    ):
        fake.add_user(USER, name="alice", real_name="Alice Martin")
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            DATABASE_URL=database_url,
            PUBLIC_URL=url,
            DEFAULT_REGION="FR",
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            TWILIO_ACCOUNT_SID=SID,
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_FROM=FROM,
            TWILIO_API_URL=twilio.url,
            SENDER_RATES=f"{FROM}=off",
        )
        app = create_app(settings, clock=clock)
        app.inbox_in_background = False
        try:
            assert install_slack(app)
            late.wsgi = create_flask(app).wsgi_app
            workspace = app.ops.ensure_workspace(TEAM_ID, "Acme")
            assert workspace.id is not None
            policy = {**workspace.policy, "send_window": "always", "notify_channel": "C0NOTIFY"}
            app.ops.update_policy(workspace.id, WorkspacePolicy.model_validate(policy), ALICE)

            assert _command(url, fake, "send Jane Doe +33615550100").status_code == 200
            assert fake.wait_for(lambda: _attributes(spans, "reviewops.create"), 10)
            assert app.dispatcher.run_until_idle() == 1
            [sent] = twilio.accepted
            assert twilio.send_status_callback(sent["sid"], "delivered") == 200
            assert app.inbox().inbox.apply_pending() == 1
            for _ in range(6):
                app.outbox.run_once()  # type: ignore[union-attr]
                clock.advance(timedelta(seconds=2))
        finally:
            app.close()

    [slack_request] = _attributes(spans, "reviewops.slack_request")
    assert slack_request == {"reviewops.workspace": TEAM_ID, "reviewops.slack": "/reviews"}
    [created] = _attributes(spans, "reviewops.create")
    assert created["reviewops.request"] == 1 and created["reviewops.actor"] == USER
    [send] = _attributes(spans, "reviewops.send")
    assert (send["reviewops.request"], send["reviewops.workspace"]) == (1, TEAM_ID)
    assert (send["reviewops.provider"], send["reviewops.outcome"]) == ("twilio", "sent")
    assert send["reviewops.provider_id"] == sent["sid"] and send["reviewops.channel"] == "sms"
    [callback] = _attributes(spans, "reviewops.status_callback")
    assert callback == {"reviewops.provider_id": sent["sid"], "reviewops.status": "delivered"}
    posts = _attributes(spans, "reviewops.slack_post")
    assert {p["reviewops.kind"] for p in posts} >= {"root", "reply"}
    assert all(p["reviewops.request"] == 1 for p in posts)
    # No contact in any span.
    assert "615550100" not in str([dict(s.attributes or {}) for s in spans.get_finished_spans()])


def test_without_the_settings_tracing_stays_off(database_url: str) -> None:
    settings = Settings(_env_file=None, DATABASE_URL=database_url)  # type: ignore[call-arg]
    assert not settings.tracing_wanted
    assert not tracing.configure(settings) and not tracing.enabled()
    with tracing.span("reviewops.send", request=1) as span:
        assert span is None  # a no-op: nothing recorded, nothing exported
    off = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=database_url,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318",
        OTEL_TRACES_EXPORTER="none",
    )
    assert not off.tracing_wanted
    on = Settings(_env_file=None, DATABASE_URL=database_url, OTEL_TRACES_EXPORTER="otlp")  # type: ignore[call-arg]
    assert on.tracing_wanted


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace collector on loopback: keeps each export request's body."""

    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_with_an_endpoint_spans_are_exported_over_otlp(database_url: str) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=database_url,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{server.server_port}",
    )
    try:
        assert tracing.configure(settings)
        with tracing.span("reviewops.send", request=7, provider=None):
            tracing.tag(outcome="sent")
        tracing.flush()
    finally:
        tracing.use(None)
        server.shutdown()
        server.server_close()
    [(path, body)] = _Collector.received
    assert path == "/v1/traces"
    export = ExportTraceServiceRequest.FromString(body)
    [span] = [s for r in export.resource_spans for ss in r.scope_spans for s in ss.spans]
    attributes = {a.key: a.value for a in span.attributes}
    assert span.name == "reviewops.send"
    assert attributes["reviewops.request"].int_value == 7
    assert attributes["reviewops.outcome"].string_value == "sent"
    assert "reviewops.provider" not in attributes  # None is left out
