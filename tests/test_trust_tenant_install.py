"""Install lifecycle: uninstall and revocations, single-use OAuth state, tokens sealed at rest.

Everything goes through the real routes: the OAuth install pages, signed Events API posts to
/slack/events (as Slack sends app_uninstalled and tokens_revoked), and the `reviewops` CLI.
"""

# ruff: noqa: F811  (pytest fixtures imported by name and used as arguments)

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlmodel import col, select
from typer.testing import CliRunner

from bot.settings import Settings
from handlers.install_words import NOT_INSTALLED
from store.installations import TokenCipher, TokenKeyError
from store.models import Event, Message, ReviewRequest, Workspace
from tests.conftest import START
from tests.slack_harness import (
    CHANNEL,
    SIGNING_SECRET,
    TEAM_ID,
    USER,
    SlackHarness,
    sign,
    slack_fixture,  # noqa: F401
    text_of,
)
from tests.test_slack_database_down import cut_the_database
from tests.test_slack_oauth import TOKEN_KEY, Installed, install, served  # noqa: F401

# --- driving Slack ------------------------------------------------------------------------------


def post_signed(url: str, body: str, content_type: str) -> requests.Response:
    ts = int(time.time())
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
    }
    return requests.post(url, data=body.encode(), headers=headers, timeout=10)


def event_body(event: dict[str, Any], team: str = TEAM_ID) -> str:
    """An Events API envelope, as Slack posts app_uninstalled and tokens_revoked."""
    return json.dumps(
        {
            "token": "verification-token-unused",
            "team_id": team,
            "api_app_id": "A0REVIEWS",
            "event": {**event, "event_ts": f"{time.time():.6f}"},
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
        }
    )


UNINSTALLED = {"type": "app_uninstalled"}


def revoked(*, users: list[str] | None = None, bots: list[str] | None = None) -> dict[str, Any]:
    return {"type": "tokens_revoked", "tokens": {"oauth": users or [], "bot": bots or []}}


def served_event(served: Installed, event: dict[str, Any], team: str = TEAM_ID) -> int:
    body = event_body(event, team)
    return post_signed(f"{served.url}/slack/events", body, "application/json").status_code


def served_command(served: Installed, text: str) -> str:
    """Send `/reviews <text>` to the OAuth app; return what it answered at the response_url."""
    url = served.fake.new_response_url()
    form = {
        "team_id": TEAM_ID,
        "channel_id": CHANNEL,
        "user_id": USER,
        "user_name": "alice",
        "command": "/reviews",
        "text": text,
        "api_app_id": served.fake.app_id,
        "response_url": url,
        "trigger_id": served.fake.issue_trigger_id(),
    }
    answer = post_signed(
        f"{served.url}/slack/events", urlencode(form), "application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    if answer.text:
        return answer.text
    assert served.fake.wait_for(lambda: [r for r in served.fake.responses if r["url"] == url])
    return text_of([r for r in served.fake.responses if r["url"] == url][-1])


def stored(app: Any) -> Workspace | None:
    with app.db.read() as session:
        return session.exec(select(Workspace).where(Workspace.team_id == TEAM_ID)).first()


def statuses(app: Any) -> list[str]:
    with app.db.read() as session:
        return [m.status for m in session.exec(select(Message).order_by(col(Message.id))).all()]


def events(app: Any, kind: str) -> list[Event]:
    with app.db.read() as session:
        return list(session.exec(select(Event).where(Event.kind == kind)).all())


# --- uninstall and revocations (OAuth) ----------------------------------------------------------


def test_a_user_revoking_their_token_keeps_the_bot_token(served: Installed) -> None:
    assert install(served).status_code == 200
    assert "#1" in served_command(served, "send Jane Doe +33 6 10 20 30 40 in:2d")
    sealed = stored(served.app)
    assert sealed is not None and sealed.bot_token

    assert served_event(served, revoked(users=["U0INSTALLER"])) == 200

    after = stored(served.app)
    assert after is not None and after.bot_token == sealed.bot_token
    assert statuses(served.app) == ["queued"]
    assert "#2" in served_command(served, "send Bob Roe +33 6 11 22 33 44 in:2d")


@pytest.mark.parametrize("event", [UNINSTALLED, revoked(bots=["UBOT"])], ids=["uninstall", "bot"])
def test_uninstall_deletes_the_token_pauses_the_queue_and_a_reinstall_keeps_history(
    served: Installed, event: dict[str, Any]
) -> None:
    assert install(served).status_code == 200
    assert "#1" in served_command(served, "send Jane Doe +33 6 10 20 30 40 in:2d")

    assert served_event(served, event) == 200

    workspace = stored(served.app)
    assert workspace is not None and workspace.bot_token is None
    assert statuses(served.app) == ["paused"]
    [paused] = events(served.app, "paused")
    assert paused.actor == "slack" and paused.detail["actor_name"].startswith("Slack: ")
    [gone] = events(served.app, "uninstalled")
    assert gone.detail["paused"] == [1]
    # The workspace may do nothing now; Slack sending the event again changes nothing more.
    assert served_command(served, "list") == NOT_INSTALLED
    assert served_event(served, event) == 200
    assert len(events(served.app, "uninstalled")) == 1

    # Installing again: the token is back, the history is there, the pause stands.
    assert install(served).status_code == 200
    again = stored(served.app)
    assert again is not None and again.id == workspace.id and again.bot_token
    assert statuses(served.app) == ["paused"]
    assert "#1" in served_command(served, "show #1")
    assert "#2" in served_command(served, "send Bob Roe +33 6 11 22 33 44 in:2d")


def test_an_uninstall_from_a_team_never_installed_creates_nothing(served: Installed) -> None:
    assert served_event(served, UNINSTALLED, team="T0NEVER") == 200
    with served.app.db.read() as session:
        assert session.exec(select(Workspace)).all() == []


# --- uninstall with one workspace's token -------------------------------------------------------


def test_single_token_uninstall_pauses_the_queue_and_keeps_history(slack: SlackHarness) -> None:
    waiting = slack.create("Jane Doe", delay=timedelta(days=2))
    assert slack.post(event_body(UNINSTALLED), content_type="application/json").status_code == 200

    detail = slack.ops.show(slack.ws, waiting)
    assert [m.status for m in detail.messages] == ["paused"]
    assert [e.kind for e in detail.events][-1] == "paused"
    with slack.app.db.read() as session:
        assert session.exec(select(ReviewRequest)).one().number == waiting


def test_an_uninstall_met_by_a_database_outage_is_answered_500_so_slack_sends_it_again(
    slack: SlackHarness,
) -> None:
    waiting = slack.create("Jane Doe", delay=timedelta(days=2))
    engines = (slack.app.db.engine, slack.app.db.write_engine)
    cut_the_database(slack)
    assert slack.post(event_body(UNINSTALLED), content_type="application/json").status_code == 500

    slack.app.db.engine, slack.app.db.write_engine = engines  # the database is back
    assert slack.post(event_body(UNINSTALLED), content_type="application/json").status_code == 200
    assert [m.status for m in slack.ops.show(slack.ws, waiting).messages] == ["paused"]


# --- the OAuth state is used once ---------------------------------------------------------------


def install_page(served: Installed) -> tuple[str, str]:
    page = requests.get(f"{served.url}/slack/install", timeout=10)
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
    assert link
    state = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)["state"][0]
    return state, page.headers["Set-Cookie"].split(";")[0]


def redirect(served: Installed, state: str, cookie: str) -> requests.Response:
    return requests.get(
        f"{served.url}/slack/oauth_redirect",
        params={"code": served.fake.issue_oauth_code(), "state": state},
        headers={"Cookie": cookie},
        timeout=10,
    )


def test_an_oauth_state_is_refused_the_second_time(served: Installed) -> None:
    state, cookie = install_page(served)
    assert redirect(served, state, cookie).status_code == 200
    assert len(served.fake.calls_to("oauth.v2.access")) == 1

    replayed = redirect(served, state, cookie)  # a fresh code, the same state and cookie

    assert replayed.status_code >= 400
    assert len(served.fake.calls_to("oauth.v2.access")) == 1
    # A new install page gives a new state, which works.
    fresh, fresh_cookie = install_page(served)
    assert redirect(served, fresh, fresh_cookie).status_code == 200


# --- bot tokens sealed at rest ------------------------------------------------------------------


def test_the_installed_token_is_sealed_at_rest(served: Installed) -> None:
    assert install(served).status_code == 200
    workspace = stored(served.app)
    assert workspace is not None and workspace.bot_token
    assert served.fake.bot_token not in workspace.bot_token
    assert TokenCipher([TOKEN_KEY]).open(workspace.bot_token) == served.fake.bot_token
    with pytest.raises(TokenKeyError):
        TokenCipher([Fernet.generate_key().decode()]).open(workspace.bot_token)


def test_oauth_without_a_key_refuses_to_start_and_a_bad_key_is_named() -> None:
    oauth = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "x"}
    with pytest.raises(ValidationError, match="need TOKEN_ENCRYPTION_KEYS"):
        Settings(_env_file=None, **oauth)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="key 2 is not a Fernet key"):
        Settings(_env_file=None, TOKEN_ENCRYPTION_KEYS=f"{TOKEN_KEY},nope")  # type: ignore[call-arg]


def rotate(database_url: str, keys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from bot.cli import cli

    monkeypatch.chdir(tmp_path)  # no stray .env is read
    env = {"DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "", "TOKEN_ENCRYPTION_KEYS": keys}
    return CliRunner().invoke(cli, ["tokens", "rotate"], env=env)


def test_rotation_seals_every_token_with_the_new_key(
    served: Installed, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert install(served).status_code == 200
    with served.app.db.write() as session:  # a workspace installed before keys were set
        session.add(Workspace(team_id="T0OLD", bot_token="xoxb-kept-in-clear", created_at=START))
    new = Fernet.generate_key().decode()

    done = rotate(database_url, f"{new},{TOKEN_KEY}", tmp_path, monkeypatch)

    assert done.exit_code == 0, done.output
    assert "2 bot token(s) sealed" in done.output
    with served.app.db.read() as session:
        rows = {w.team_id: w.bot_token or "" for w in session.exec(select(Workspace)).all()}
    only_new = TokenCipher([new])
    assert only_new.open(rows[TEAM_ID]) == served.fake.bot_token
    assert only_new.open(rows["T0OLD"]) == "xoxb-kept-in-clear"
    with pytest.raises(TokenKeyError):
        TokenCipher([TOKEN_KEY]).open(rows[TEAM_ID])


def test_rotation_without_the_old_key_changes_nothing(
    served: Installed, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert install(served).status_code == 200
    before = stored(served.app)
    assert before is not None

    refused = rotate(database_url, Fernet.generate_key().decode(), tmp_path, monkeypatch)

    assert refused.exit_code == 2
    assert "No key of TOKEN_ENCRYPTION_KEYS opens a stored bot token" in refused.output
    after = stored(served.app)
    assert after is not None and after.bot_token == before.bot_token
