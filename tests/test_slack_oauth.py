"""Multi-workspace install: /slack/install, /slack/oauth_redirect, and the installed token in use."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
import yaml
from sqlmodel import select
from werkzeug.serving import make_server

from bot.app import ReviewOpsApp, create_app
from bot.clock import FrozenClock
from bot.delivery.console import ConsoleSender
from bot.server import create_flask
from bot.settings import Settings
from bot.slack import install_slack
from bot.slack_install import BOT_SCOPES
from store.installations import TokenCipher
from store.models import Workspace
from tests.fakes.slack_api import FakeSlack
from tests.slack_harness import CHANNEL, SIGNING_SECRET, TEAM_ID, USER, sign, text_of

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret"
TOKEN_KEY = "yjXg0mEjS4RkU6tOjaxC5lmLb6gk3yVqC3y0tmb2yUQ="  # Fernet: bot tokens sealed at rest
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Installed:
    fake: FakeSlack
    app: ReviewOpsApp
    url: str


@pytest.fixture
def served(database_url: str, clock: FrozenClock) -> Iterator[Installed]:
    with FakeSlack() as fake:
        fake.configure_oauth(CLIENT_ID, CLIENT_SECRET)
        fake.add_user(USER, name="alice", real_name="Alice Martin")
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            DATABASE_URL=database_url,
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            TOKEN_ENCRYPTION_KEYS=TOKEN_KEY,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            PUBLIC_URL="https://reviews.example.test",
            DEFAULT_REGION="FR",
        )
        console = ConsoleSender()
        app = create_app(
            settings, clock=clock, senders={"sms": console, "whatsapp": console, "email": console}
        )
        assert install_slack(app)
        server = make_server("127.0.0.1", 0, create_flask(app), threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield Installed(fake, app, f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            app.close()


def install(served: Installed) -> requests.Response:
    """Open the install page, approve in "Slack", and follow the redirect back."""
    page = requests.get(f"{served.url}/slack/install", timeout=10)
    assert page.status_code == 200
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
    assert link, page.text
    query = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)
    assert query["client_id"] == [CLIENT_ID]
    assert set(query["scope"][0].split(",")) == set(BOT_SCOPES)
    assert query["redirect_uri"] == ["https://reviews.example.test/slack/oauth_redirect"]
    # The state cookie is Secure: a browser sends it back over https; carry it by hand here.
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    code = served.fake.issue_oauth_code()
    return requests.get(
        f"{served.url}/slack/oauth_redirect",
        params={"code": code, "state": query["state"][0]},
        headers={"Cookie": cookie.split(";")[0]},
        timeout=10,
    )


def stored_token(served: Installed) -> str | None:
    with served.app.db.read() as session:
        row = session.exec(select(Workspace).where(Workspace.team_id == TEAM_ID)).first()
        return TokenCipher([TOKEN_KEY]).open(row.bot_token) if row and row.bot_token else None


def test_install_stores_the_workspace_token_and_commands_use_it(served: Installed) -> None:
    done = install(served)
    assert done.status_code == 200
    assert stored_token(served) == served.fake.bot_token
    assert served.fake.calls_to("oauth.v2.access"), "the code was exchanged with Slack"

    # A command from the installed workspace is authorized with its stored token.
    response_url = served.fake.new_response_url()
    body = urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": USER,
            "user_name": "alice",
            "command": "/reviews",
            "text": "send Jane Doe +33 6 10 20 30 40",
            "api_app_id": served.fake.app_id,
            "response_url": response_url,
            "trigger_id": served.fake.issue_trigger_id(),
        }
    )
    ts = int(time.time())
    answer = requests.post(
        f"{served.url}/slack/events",
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert served.fake.wait_for(
        lambda: [r for r in served.fake.responses if r["url"] == response_url]
    )
    [reply] = [r for r in served.fake.responses if r["url"] == response_url]
    assert "#1" in text_of(reply)

    # The outbox posts the request's card with the same installed token.
    outbox = served.app.outbox
    for _ in range(3):
        outbox.run_once()
        assert isinstance(served.app.clock, FrozenClock)
        served.app.clock.advance(timedelta(seconds=2))
    assert len(served.fake.messages(CHANNEL)) == 1


def test_a_forged_state_installs_nothing(served: Installed) -> None:
    # Even with a matching cookie, a state we did not sign is refused.
    forged = "Zm9yZ2Vk.aw8aLw.3VFAyj-ze3NFlmE1FRKdP_Zrn8M"
    refused = requests.get(
        f"{served.url}/slack/oauth_redirect",
        params={"code": served.fake.issue_oauth_code(), "state": forged},
        headers={"Cookie": f"slack-app-oauth-state={forged}"},
        timeout=10,
    )
    assert refused.status_code >= 400
    assert stored_token(served) is None
    assert not served.fake.calls_to("oauth.v2.access")


def test_a_redirect_from_another_browser_installs_nothing(served: Installed) -> None:
    page = requests.get(f"{served.url}/slack/install", timeout=10)
    state = re.search(r"state=([^&\"]+)", page.text)
    assert state
    # No state cookie: the redirect did not come back to the browser that started the install.
    refused = requests.get(
        f"{served.url}/slack/oauth_redirect",
        params={"code": served.fake.issue_oauth_code(), "state": state.group(1)},
        timeout=10,
    )
    assert refused.status_code >= 400
    assert stored_token(served) is None


def test_the_oauth_scopes_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert any(
        u.endswith("/slack/oauth_redirect") for u in manifest["oauth_config"]["redirect_urls"]
    )
