"""Multi-workspace install over OAuth: GET /slack/install and GET /slack/oauth_redirect.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, each workspace installs the app through Slack's
OAuth v2 flow (Bolt's OAuthFlow). Its bot token lands, sealed, on our `workspace` row, where
the outbox and every listener find it, so one process serves every workspace that installed
it. Each `state` is signed, expires after ten minutes and is taken by its first redirect.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from logging import Logger
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

from bot.clock import Clock
from bot.settings import Settings
from bot.usecases.installs import InstalledBot, Installs
from bot.usecases.review_ops import ReviewOps
from store import oauth_states
from store.db import Database
from store.installations import TokenCipher

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes of manifest.yml (a test keeps the two the same).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "files:read",
    "users:read",
    "im:write",
    "channels:history",
    "groups:history",
    "im:history",
)
STATE_MAX_AGE_SECONDS = 600
REVOKED = "Slack: app uninstalled or bot token revoked"


class WorkspaceInstallationStore(InstallationStore):
    """Keep each installed workspace's bot token, sealed, on its `workspace` row (bot only).

    The rules (what an install keeps, what an uninstall forgets and pauses) are
    bot/usecases/installs.py's; this speaks Slack's installation-store words to it.
    """

    def __init__(self, installs: Installs) -> None:
        self.installs = installs

    @property
    def logger(self) -> Logger:
        return log

    def save(self, installation: Installation) -> None:
        self.save_bot(installation.to_bot())

    def save_bot(self, bot: Bot) -> None:
        if not bot.team_id:
            raise ValueError("an install without a team id (org-wide installs are not supported)")
        if not bot.bot_token:
            raise ValueError("an install without a bot token")
        self.installs.installed(
            InstalledBot(bot.team_id, bot.team_name or "", bot.bot_token, bot.bot_user_id or "")
        )
        log.info("installed in workspace %s (%s)", bot.team_id, bot.team_name or "")

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = self.installs.find(team_id) if team_id else None
        if found is None:
            return None
        return Bot(
            team_id=found.team_id,
            team_name=found.team_name,
            bot_token=found.bot_token,
            bot_id="",  # not kept: reviewops listens to no bot events it would have to ignore
            bot_user_id=found.bot_user_id,
            installed_at=found.installed_at or 0.0,
        )

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if team_id:
            self.installs.revoked(team_id, REVOKED)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        # No user tokens are kept; the bot token goes only through delete_bot, never here:
        # a user's revoke must not take the workspace's bot token with it.
        return None


class SignedStateStore(OAuthStateStore):
    """Issue OAuth `state` values signed with the client secret, good for ten minutes, once.

    The signature lets any process behind the load balancer check a state another one
    issued; the database (store/oauth_states.py) lets only the first redirect use it. Bolt
    also binds it to the installing browser with a cookie.
    """

    def __init__(
        self, secret: str, db: Database, clock: Clock, *, max_age: int = STATE_MAX_AGE_SECONDS
    ) -> None:
        self._signer = TimestampSigner(secret, salt="reviewops-oauth-state")
        self.db = db
        self.clock = clock
        self.max_age = max_age

    @property
    def logger(self) -> Logger:
        return log

    def issue(self, *args: Any, **kwargs: Any) -> str:
        return self._signer.sign(secrets.token_urlsafe(16)).decode()

    def consume(self, state: str) -> bool:
        try:
            nonce = self._signer.unsign(state, max_age=self.max_age).decode()
        except (SignatureExpired, BadSignature):
            log.warning("refused an OAuth redirect with a forged or expired state")
            return False
        life = timedelta(seconds=self.max_age)
        if not oauth_states.use_once(self.db, nonce, self.clock.now(), life):
            log.warning("refused an OAuth redirect with a state already used")
            return False
        return True


def oauth_settings(settings: Settings, ops: ReviewOps) -> OAuthSettings | None:
    """Return Bolt's OAuth settings when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set."""
    if not settings.oauth_installs or not settings.slack_client_secret:  # the second for mypy
        return None
    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        redirect_uri=settings.public_url + REDIRECT_PATH,
        installation_store=WorkspaceInstallationStore(
            Installs(ops, TokenCipher(settings.token_keys()))
        ),
        installation_store_bot_only=True,
        state_store=SignedStateStore(settings.slack_client_secret, ops.db, ops.clock),
        state_expiration_seconds=STATE_MAX_AGE_SECONDS,
    )
