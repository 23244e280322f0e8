"""Outside words never become Slack markup: replies, bounces and names reach Slack escaped.

A customer's SMS, a recipient's mail server and a teammate typing a name can all write
`<!channel>` or `<https://evil.example|Click here>`. What the fake Slack receives (the thread
reply, the alert, the card and their fallback texts) must show those as words: no mention and
no disguised link can be formed. Driven through the real entry points: a signed Twilio inbound
webhook, a signed Mailgun event, and the outbox job posting to the fake Slack Web API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests

from bot.app import ReviewOpsApp, create_app
from bot.clock import FrozenClock
from bot.domain.policy import WorkspacePolicy
from bot.server import create_flask
from bot.settings import Settings
from bot.usecases.inputs import RequestCreate
from tests.fakes import twilio_api as tw
from tests.fakes.slack_api import FakeSlack
from tests.fakes.smtp_server import SmtpServer
from tests.helpers import ALICE
from tests.test_webhooks_twilio import FROM, PHONE, SID, TOKEN, serving

NOTIFY = "C0REVIEWS"
ALERTS = "C0ALERTS"
MAILGUN_KEY = "key-mailgun-signing"
EVIL = "<!channel> Your account is locked: <https://evil.example|Click here>"

# The only markup our own code writes: mentions of users and channels, Slack date tokens
# (never with a link part) and the link to a request's thread in the Slack archives.
_OURS = re.compile(
    r"<@[UW][A-Z0-9]+>|<#[CGD][A-Z0-9]+>|<!date\^\d+\^[^^|<>]+\|[^^|<>]+>"
    r"|<https://slack\.com/archives/[A-Z0-9]+/p\d+\|[^<>|]+>"
)


def foreign_markup(text: str) -> list[str]:
    """Return every `<...>` markup in a mrkdwn text that our own code did not write."""
    return [m for m in re.findall(r"<[^<>]*>?", text) if not _OURS.fullmatch(m)]


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """The fallback text and every mrkdwn text of a message (plain_text is never markup)."""
    texts = [str(message.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(str(node.get("text")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return texts


def assert_no_foreign_markup(message: dict[str, Any]) -> None:
    for text in mrkdwn_texts(message):
        assert foreign_markup(text) == [], text


@dataclass
class Stack:
    app: ReviewOpsApp
    slack: FakeSlack
    twilio: tw.FakeTwilio
    url: str
    ws: int
    clock: FrozenClock

    def create(self, **values: Any) -> int:
        values = {"name": "Jane Doe", "phone": PHONE, "method": "sms", **values}
        return int(self.app.ops.create(self.ws, RequestCreate(**values), ALICE).number)

    def drain(self) -> None:
        assert self.app.outbox is not None
        for _ in range(20):
            self.app.outbox.run_once()
            self.clock.advance(timedelta(seconds=1))

    def thread_replies(self) -> list[dict[str, Any]]:
        [card] = self.slack.messages(NOTIFY)
        return self.slack.thread(NOTIFY, card["ts"])[1:]

    def mailgun(self, data: dict[str, Any]) -> int:
        timestamp = str(int(self.clock.now().timestamp()))
        token = secrets.token_hex(25)
        digest = hmac.new(
            MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
        ).hexdigest()
        signature = {"timestamp": timestamp, "token": token, "signature": digest}
        body = {"signature": signature, "event-data": data}
        response = requests.post(f"{self.url}/webhooks/email/mailgun", json=body, timeout=5)
        return response.status_code


@contextmanager
def stack(database_url: str, clock: FrozenClock, smtp: SmtpServer) -> Iterator[Stack]:
    """The real app over HTTP with the fake Slack, the fake Twilio and a real SMTP server."""
    with (
        FakeSlack() as slack,
        tw.FakeTwilio(SID, TOKEN, now=clock.now) as twilio,
        serving() as (url, late),
    ):
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            DATABASE_URL=database_url,
            PUBLIC_URL=url,
            DEFAULT_REGION="US",
            TWILIO_ACCOUNT_SID=SID,
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_FROM=FROM,
            TWILIO_API_URL=twilio.url,
            SMTP_URL=smtp.url,
            EMAIL_FROM="shop@acme.example",
            MAILGUN_SIGNING_KEY=MAILGUN_KEY,
            SENDER_RATES=f"{FROM}=off,smtp=off",
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_SIGNING_SECRET="secret",  # noqa: S106 - a test secret
            SLACK_API_URL=slack.api_url,
        )
        app = create_app(settings, clock=clock)
        app.inbox_in_background = False
        late.wsgi = create_flask(app).wsgi_app
        workspace = app.ops.ensure_workspace(slack.team_id, "Acme")
        assert workspace.id is not None
        base = WorkspacePolicy.model_validate(workspace.policy).model_dump()
        policy = {
            **base,
            "send_window": "always",
            "business_name": "Acme",
            "notify_channel": NOTIFY,
            "cooldown_days": 0,
        }
        app.ops.update_policy(workspace.id, WorkspacePolicy.model_validate(policy), ALICE)
        try:
            yield Stack(app, slack, twilio, url, workspace.id, clock)
        finally:
            app.close()


@pytest.fixture
def world(database_url: str, clock: FrozenClock, smtp: SmtpServer) -> Iterator[Stack]:
    with stack(database_url, clock, smtp) as built:
        yield built


def test_an_evil_sms_reply_reaches_the_thread_as_quoted_words(world: Stack) -> None:
    world.create()
    assert world.app.dispatcher.run_until_idle() == 1
    world.drain()
    body = f"{EVIL}\nI typed &lt; myself\n> not a quote of ours"
    assert (
        world.twilio.send_inbound(PHONE, FROM, body, f"{world.url}/webhooks/twilio/inbound") == 200
    )
    world.drain()
    [reply] = [r for r in world.thread_replies() if "replied" in r["text"]]
    sent = json.dumps(reply)
    assert "<!channel>" not in sent and "<https://evil" not in sent
    assert_no_foreign_markup(reply)
    lines = reply["text"].split("\n")
    assert lines[0] == "Jane Doe replied:"
    # Each line of the customer's words is quoted and shows exactly what they typed.
    assert lines[1:] == [
        ">&lt;!channel&gt; Your account is locked: &lt;https://evil.example|Click here&gt;",
        ">I typed &amp;lt; myself",
        ">&gt; not a quote of ours",
    ]


def test_a_long_reply_is_quoted_within_a_bound(world: Stack) -> None:
    world.create()
    assert world.app.dispatcher.run_until_idle() == 1
    world.drain()
    body = "<@U0ALL> " + "word " * 400  # 2,008 characters: more than an SMS shown in full
    assert (
        world.twilio.send_inbound(PHONE, FROM, body, f"{world.url}/webhooks/twilio/inbound") == 200
    )
    world.drain()
    [reply] = [r for r in world.thread_replies() if "replied" in r["text"]]
    assert_no_foreign_markup(reply)
    quoted = reply["text"].split("\n", 1)[1]
    assert quoted.startswith(">&lt;@U0ALL&gt; word") and quoted.endswith("…")
    assert len(quoted) < 700


def test_an_evil_bounce_description_reaches_the_alert_escaped(
    world: Stack, smtp: SmtpServer
) -> None:
    policy = world.app.ops.policy(world.ws).model_dump()
    world.app.ops.update_policy(
        world.ws, WorkspacePolicy.model_validate({**policy, "alert_channel": ALERTS}), ALICE
    )
    world.create(method="email", email="jane@example.com", phone=None)
    assert world.app.dispatcher.run_until_idle() == 1
    message_id = smtp.messages[-1].message["Message-ID"].strip("<>")
    data = {
        "id": secrets.token_urlsafe(16),
        "event": "failed",
        "timestamp": 1_795_000_000.0,
        "recipient": "jane@example.com",
        "severity": "permanent",
        "reason": "bounce",
        "message": {"headers": {"message-id": message_id}},
        "delivery-status": {"code": 550, "description": EVIL},
    }
    assert world.mailgun(data) == 200
    world.drain()
    [alert] = world.slack.messages(ALERTS)
    sent = json.dumps(alert)
    assert "<!channel>" not in sent and "<https://evil" not in sent
    assert_no_foreign_markup(alert)
    assert "&lt;!channel&gt; Your account is locked" in alert["text"]
    # The thread says it too, and the card's "Last error" field.
    [card] = world.slack.messages(NOTIFY)
    for message in [world.slack.message(NOTIFY, card["ts"]), *world.thread_replies()]:
        assert "<!channel>" not in json.dumps(message)
        assert_no_foreign_markup(message)


def test_an_evil_name_and_reference_reach_the_card_and_thread_escaped(world: Stack) -> None:
    world.create(name="<!here> Bob & <@U0BOSS>", reference="<https://evil.example|A-1>")
    assert world.app.dispatcher.run_until_idle() == 1
    world.drain()
    [card] = world.slack.messages(NOTIFY)
    posted = [world.slack.message(NOTIFY, card["ts"]), *world.thread_replies()]
    for message in posted:
        sent = json.dumps(message)
        assert "<!here>" not in sent and "<@U0BOSS>" not in sent and "<https://evil" not in sent
        assert_no_foreign_markup(message)
    assert "&lt;!here&gt; Bob &amp; &lt;@U0BOSS&gt;" in card["text"]
    # The teammate who asked is still mentioned: our own markup is kept.
    assert any("<@" + ALICE.id + ">" in t for t in mrkdwn_texts(posted[0]))
