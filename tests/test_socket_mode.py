"""Socket Mode for real: slack_sdk's own client connects to a local WebSocket server standing in
for Slack's, gets a /reviews command as an envelope, acks it, and the listener answers."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from bot.app import create_app
from bot.clock import FrozenClock
from bot.delivery.console import ConsoleSender
from bot.settings import Settings
from bot.slack import connect_socket_mode
from tests.fakes.slack_api import FakeSlack
from tests.slack_harness import CHANNEL, TEAM_ID, USER, text_of

APP_TOKEN = "xapp-1-test"  # noqa: S105 - a fake token for tests


class SocketSlack:
    """Slack's Socket Mode side: says hello, sends envelopes, collects the app's acks."""

    def __init__(self) -> None:
        self.to_send: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server: Server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link?ticket=t"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _session(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1}))
        try:
            while True:
                try:
                    envelope = self.to_send.get(timeout=0.05)
                    ws.send(json.dumps(envelope))
                except queue.Empty:
                    pass
                try:
                    self.acks.put(json.loads(ws.recv(timeout=0.05)))
                except TimeoutError:
                    pass
        except ConnectionClosed:
            return

    def close(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def socket_slack() -> Iterator[SocketSlack]:
    stand_in = SocketSlack()
    yield stand_in
    stand_in.close()


def test_a_command_over_socket_mode_is_acked_and_answered(
    database_url: str, clock: FrozenClock, socket_slack: SocketSlack
) -> None:
    with FakeSlack() as fake:
        fake.configure_socket_mode(APP_TOKEN, socket_slack.url)
        fake.add_user(USER, name="alice", real_name="Alice Martin")
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_APP_TOKEN=APP_TOKEN,
            SLACK_API_URL=fake.api_url,
            DEFAULT_REGION="FR",
        )
        console = ConsoleSender()
        app = create_app(
            settings, clock=clock, senders={"sms": console, "whatsapp": console, "email": console}
        )
        handler = connect_socket_mode(app)
        try:
            response_url = fake.new_response_url()
            socket_slack.to_send.put(
                {
                    "envelope_id": "env-1",
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": {
                        "team_id": TEAM_ID,
                        "channel_id": CHANNEL,
                        "user_id": USER,
                        "user_name": "alice",
                        "command": "/reviews",
                        "text": "send Jane Doe +33 6 10 20 30 40",
                        "api_app_id": fake.app_id,
                        "response_url": response_url,
                        "trigger_id": fake.issue_trigger_id(),
                    },
                }
            )
            ack = socket_slack.acks.get(timeout=10)
            assert ack["envelope_id"] == "env-1"
            assert fake.wait_for(
                lambda: [r for r in fake.responses if r["url"] == response_url], timeout=10
            )
            [answer] = [r for r in fake.responses if r["url"] == response_url]
            assert "#1" in text_of(answer)
            assert app.ops.show(app.ops.only_workspace(TEAM_ID).id or 0, 1).request.phone == (
                "+33610203040"
            )
        finally:
            handler.close()
            app.close()
