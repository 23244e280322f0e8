"""Multi-workspace install over OAuth: GET /slack/install and GET /slack/oauth_redirect.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, each workspace installs the app through Slack's
OAuth v2 flow (Bolt's OAuthFlow). Its bot token lands on our `workspace` row, where the outbox
and every listener find it, so one process serves every workspace that installed it.
"""

from __future__ import annotations

import logging
import secrets
from logging import Logger
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore
from sqlmodel import select

from bot.settings import Settings
from bot.usecases.review_ops import ReviewOps
from store.models import Workspace

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes of manifest.yml (a test keeps the two the same).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "users:read",
    "im:write",
    "channels:history",
    "groups:history",
    "im:history",
)
STATE_MAX_AGE_SECONDS = 600


class WorkspaceInstallationStore(InstallationStore):
    """Keep each installed workspace's bot token on its `workspace` row (bot tokens only)."""

    def __init__(self, ops: ReviewOps) -> None:
        self.ops = ops

    @property
    def logger(self) -> Logger:
        return log

    def save(self, installation: Installation) -> None:
        self.save_bot(installation.to_bot())

    def save_bot(self, bot: Bot) -> None:
        if not bot.team_id:
            raise ValueError("an install without a team id (org-wide installs are not supported)")
        workspace = self.ops.ensure_workspace(bot.team_id, bot.team_name or "")
        with self.ops.db.write() as session:
            row = session.get(Workspace, workspace.id)
            assert row is not None
            row.bot_token = bot.bot_token
            row.bot_user_id = bot.bot_user_id
            if bot.team_name:
                row.name = bot.team_name
            session.add(row)
        log.info("installed in workspace %s (%s)", bot.team_id, bot.team_name or "")

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        if not team_id:
            return None
        with self.ops.db.read() as session:
            row = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
        if row is None or not row.bot_token:
            return None
        return Bot(
            team_id=row.team_id,
            team_name=row.name,
            bot_token=row.bot_token,
            bot_id="",  # not kept: reviewops listens to no bot events it would have to ignore
            bot_user_id=row.bot_user_id or "",
            installed_at=row.created_at,
        )

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if not team_id:
            return
        with self.ops.db.write() as session:
            row = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
            if row is not None:
                row.bot_token = None
                session.add(row)


class SignedStateStore(OAuthStateStore):
    """Issue OAuth `state` values signed with the client secret and valid for ten minutes.

    Nothing is stored, so any process behind the load balancer can check a state another one
    issued; Bolt also binds it to the installing browser with a cookie.
    """

    def __init__(self, secret: str, *, max_age: int = STATE_MAX_AGE_SECONDS) -> None:
        self._signer = TimestampSigner(secret, salt="reviewops-oauth-state")
        self.max_age = max_age

    @property
    def logger(self) -> Logger:
        return log

    def issue(self, *args: Any, **kwargs: Any) -> str:
        return self._signer.sign(secrets.token_urlsafe(16)).decode()

    def consume(self, state: str) -> bool:
        try:
            self._signer.unsign(state, max_age=self.max_age)
        except (SignatureExpired, BadSignature):
            log.warning("refused an OAuth redirect with a forged or expired state")
            return False
        return True


def oauth_settings(settings: Settings, ops: ReviewOps) -> OAuthSettings | None:
    """Return Bolt's OAuth settings when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set."""
    if not (settings.slack_client_id and settings.slack_client_secret):
        return None
    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        redirect_uri=settings.public_url + REDIRECT_PATH,
        installation_store=WorkspaceInstallationStore(ops),
        installation_store_bot_only=True,
        state_store=SignedStateStore(settings.slack_client_secret),
        state_expiration_seconds=STATE_MAX_AGE_SECONDS,
    )
