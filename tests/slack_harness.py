"""Drive the real Slack endpoint: the wired app served over HTTP, talking to the fake Slack.

Requests are built, signed and sent exactly as Slack sends them (form-encoded bodies,
`payload=` JSON for interactivity, v0 HMAC-SHA256 signatures), so Bolt's own verification,
routing and acks run. Listeners answer after their ack, in Bolt's worker threads: the
`answer`, `ephemeral` and `opened_view` helpers wait for what reached the fake Slack.

Use the `slack` fixture in a test module:

    from tests.slack_harness import slack_fixture  # noqa: F401
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from bot.app import ReviewOpsApp, create_app
from bot.clock import FrozenClock
from bot.delivery.console import ConsoleSender
from bot.domain.policy import WorkspacePolicy
from bot.server import create_flask
from bot.settings import Settings
from bot.slack import install_slack
from bot.usecases.actors import Actor
from bot.usecases.inputs import RequestCreate
from tests.fakes.slack_api import FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # noqa: S105 - the fake's signing secret
TEAM_ID = "T0001"
USER = "U0ALICE"
ADMIN = "U0ADMIN"
CHANNEL = "C0SALES"
ALICE = Actor(USER, "alice")


def typed(value: str | None, kind: str = "plain_text_input") -> dict[str, Any]:
    """A text input's state in a view submission."""
    return {"type": kind, "value": value}


def chose(value: str, kind: str = "static_select") -> dict[str, Any]:
    """A select's (or radio buttons') state in a view submission."""
    return {"type": kind, "selected_option": {"value": value}}


def sign(secret: str, timestamp: int, body: str) -> str:
    """Return Slack's v0 signature of a request body."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackHarness:
    """The wired app behind a real HTTP server, and a fake Slack that records what it was sent."""

    def __init__(
        self, fake: FakeSlack, database_url: str, clock: FrozenClock, *, token_keys: str = ""
    ) -> None:
        self.fake = fake
        self.clock = clock
        self.console = io.StringIO()
        self.settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            DEFAULT_REGION="FR",
            PUBLIC_URL="https://reviews.example.test",
            TOKEN_ENCRYPTION_KEYS=token_keys,
        )
        console = ConsoleSender(stream=self.console)
        self.app: ReviewOpsApp = create_app(
            self.settings,
            clock=clock,
            senders={"sms": console, "whatsapp": console, "email": console},
        )
        assert install_slack(self.app)
        self.flask = create_flask(self.app)
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self.flask, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/slack/events"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        fake.add_user(USER, name="alice", real_name="Alice Martin")
        fake.add_user(ADMIN, name="boss", real_name="Bea Boss", is_admin=True)
        workspace = self.app.ops.ensure_workspace(TEAM_ID, "Test Team")
        assert workspace.id is not None
        self.ws = workspace.id
        self.set_policy(region="FR", business_name="Acme", timezone="Europe/Paris")
        self.last_response_url = ""
        self.last_trigger_id = ""
        self._mark_responses = 0
        self._mark_ephemerals = 0
        self._mark_views = 0

    @property
    def ops(self) -> Any:
        return self.app.ops

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
        self.app.close()

    # --- set-up ------------------------------------------------------------------------------

    def set_policy(self, **values: Any) -> None:
        """Change the workspace's settings (validated like `settings set`)."""
        current = self.app.ops.policy(self.ws)
        policy = WorkspacePolicy.model_validate({**current.model_dump(), **values})
        self.app.ops.update_policy(self.ws, policy, Actor(ADMIN, "boss"))

    def create(self, name: str = "Jane Doe", **fields: Any) -> int:
        """Create a request directly through the use-case; return its number."""
        if "phone" not in fields and "email" not in fields:
            fields["phone"] = "+33 6 10 20 30 40"
        request = self.app.ops.create(
            self.ws, RequestCreate(name=name, **fields), Actor(USER, "alice")
        )
        return int(request.number)

    # --- sending like Slack ------------------------------------------------------------------

    def post(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> requests.Response:
        """POST a raw body to /slack/events, signed as Slack signs it."""
        ts = int(time.time()) if timestamp is None else timestamp
        self._mark_responses = len(self.fake.responses)
        self._mark_ephemerals = len(self.fake.ephemerals)
        self._mark_views = len(self.fake.views)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(secret, ts, body),
        }
        return requests.post(self.url, data=body.encode(), headers=headers, timeout=10)

    def post_command(
        self,
        text: str,
        user: str = USER,
        channel_id: str = CHANNEL,
        **signing: Any,
    ) -> requests.Response:
        """Send `/reviews <text>` as Slack does, with a fresh trigger_id and response_url."""
        self.last_trigger_id = self.fake.issue_trigger_id()
        self.last_response_url = self.fake.new_response_url()
        form = {
            "token": "verification-token-unused",
            "team_id": TEAM_ID,
            "team_domain": "test-team",
            "channel_id": channel_id,
            "channel_name": "sales",
            "user_id": user,
            "user_name": "alice" if user == USER else "boss",
            "command": "/reviews",
            "text": text,
            "api_app_id": self.fake.app_id,
            "is_enterprise_install": "false",
            "response_url": self.last_response_url,
            "trigger_id": self.last_trigger_id,
        }
        return self.post(urlencode(form), **signing)

    def post_payload(self, payload: dict[str, Any], **signing: Any) -> requests.Response:
        """Send an interactivity payload (form field `payload`, JSON) as Slack does."""
        return self.post(urlencode({"payload": json.dumps(payload)}), **signing)

    def post_action(self, payload: dict[str, Any], **signing: Any) -> requests.Response:
        """Send a block_actions payload (see `action_payload`)."""
        return self.post_payload(payload, **signing)

    def action_payload(
        self,
        action_id: str,
        value: str | None = None,
        *,
        user: str = USER,
        channel_id: str = CHANNEL,
        selected: str | None = None,
        ephemeral: bool = True,
        message_ts: str = "1700000000.000100",
    ) -> dict[str, Any]:
        """Build a block_actions payload for a button (value) or overflow menu (selected)."""
        self.last_trigger_id = self.fake.issue_trigger_id()
        self.last_response_url = self.fake.new_response_url()
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": "b",
            "action_ts": f"{time.time():.6f}",
        }
        if selected is not None:
            action |= {"type": "overflow", "selected_option": {"value": selected}}
        else:
            action |= {
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": "x"},
            }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "test-team"},
            "user": {
                "id": user,
                "username": "alice" if user == USER else "boss",
                "team_id": TEAM_ID,
            },
            "api_app_id": self.fake.app_id,
            "token": "verification-token-unused",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            },
            "trigger_id": self.last_trigger_id,
            "channel": {"id": channel_id, "name": "sales"},
            "response_url": self.last_response_url,
            "actions": [action],
        }
        if not ephemeral:
            payload["message"] = {"type": "message", "ts": message_ts, "text": "card"}
        return payload

    def post_view_submission(
        self,
        view: dict[str, Any],
        values: dict[str, dict[str, Any]],
        *,
        user: str = USER,
        **signing: Any,
    ) -> requests.Response:
        """Submit a modal the fake opened, with state values {block_id: element state}."""
        submitted = {
            **view,
            "state": {"values": {block: {"value": state} for block, state in values.items()}},
        }
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "test-team"},
            "user": {
                "id": user,
                "username": "alice" if user == USER else "boss",
                "team_id": TEAM_ID,
            },
            "api_app_id": self.fake.app_id,
            "token": "verification-token-unused",
            "trigger_id": self.fake.issue_trigger_id(),
            "view": submitted,
            "response_urls": [],
        }
        return self.post_payload(payload, **signing)

    # --- what reached Slack -----------------------------------------------------------------

    def _wait(self, predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
        if not self.fake.wait_for(predicate, timeout=timeout):
            raise AssertionError(f"timed out waiting for {what}")

    def answer(self, url: str | None = None) -> dict[str, Any]:
        """Wait for the answer posted to a response_url (default: the last one) since the post."""
        target = url or self.last_response_url
        mark = self._mark_responses

        def found() -> list[dict[str, Any]]:
            return [r for r in self.fake.responses[mark:] if r["url"] == target]

        self._wait(found, f"an answer at {target}")
        return found()[-1]

    def ephemeral(self) -> dict[str, Any]:
        """Wait for a chat.postEphemeral since the last post; return it."""
        mark = self._mark_ephemerals
        self._wait(lambda: len(self.fake.ephemerals) > mark, "an ephemeral message")
        return self.fake.ephemerals[-1]

    def opened_view(self) -> dict[str, Any]:
        """Wait for a views.open since the last post; return the view as the fake stored it."""
        mark = self._mark_views
        self._wait(lambda: len(self.fake.views) > mark, "a views.open")
        return self.fake.views[-1]


def text_of(message: dict[str, Any]) -> str:
    """Join a message's fallback text and every text in its blocks."""
    parts = [str(message.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(parts)


def find_element(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    """Return the first interactive element with this action_id in a message or view."""
    stack: list[Any] = [message.get("blocks") or []]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            if node.get("action_id") == action_id:
                return node
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(node)
    raise KeyError(action_id)


@pytest.fixture(name="slack")
def slack_fixture(database_url: str, clock: FrozenClock) -> Iterator[SlackHarness]:
    """The wired app served on 127.0.0.1 and the fake Slack it talks to.

    Import it into a test module: `from tests.slack_harness import slack_fixture  # noqa: F401`.
    """
    with FakeSlack() as fake:
        harness = SlackHarness(fake, database_url, clock)
        try:
            yield harness
        finally:
            harness.close()
