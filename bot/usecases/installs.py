"""Installing and uninstalling: a workspace's bot token comes and goes, its history stays.

- Install (OAuth) keeps the bot token, sealed (store/installations.py), on the workspace's
  row, made on the first install and found again on a reinstall: requests, events, contacts
  and settings are all still there.
- Uninstall, or Slack revoking the bot token, deletes the token and pauses every queued
  message (through the lifecycle and the journal), so nothing goes out in the name of a team
  that removed the app. A reinstall does not resume them: the team sees them paused and
  resumes what it still wants sent (`/reviews resume`).
- A user revoking their own token changes nothing: reviewops keeps no user tokens, and the
  bot token is the workspace's, not theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session

from bot.usecases.actors import Actor
from bot.usecases.audit import record_audit
from bot.usecases.setting_secrets import SettingSecrets
from store import installations
from store.installations import TokenCipher
from store.models import Event, Workspace

if TYPE_CHECKING:
    from bot.usecases.review_ops import ReviewOps

SLACK = "slack"  # the actor of what Slack tells us (install, uninstall, revocation)


@dataclass(frozen=True)
class InstalledBot:
    """An installed workspace's bot, as Slack's installation store wants it back."""

    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str
    installed_at: datetime | None = None


@dataclass(frozen=True)
class Resealed:
    """What a rotation sealed again: bot tokens, and secret settings (all workspaces')."""

    tokens: int
    secrets: int


class Installs:
    """Keep, find and forget installed workspaces' bot tokens."""

    def __init__(self, ops: ReviewOps, cipher: TokenCipher) -> None:
        self.ops = ops
        self.db = ops.db
        self.clock = ops.clock
        self.cipher = cipher

    def installed(self, bot: InstalledBot) -> int:
        """Keep the bot token of a workspace that installed the app; return the workspace."""
        sealed = self.cipher.seal(bot.bot_token)  # refused before anything is stored
        workspace = self.ops.ensure_workspace(bot.team_id, bot.team_name)
        with self.db.write() as session:
            row = session.get(Workspace, workspace.id)
            assert row is not None and row.id is not None
            row.bot_token, row.bot_user_id = sealed, bot.bot_user_id
            row.name = bot.team_name or row.name
            session.add(row)
            self._record(session, row.id, "installed", {"team_name": row.name})
            return row.id

    def find(self, team_id: str) -> InstalledBot | None:
        """Return an installed workspace's bot, its token in clear; None when not installed."""
        workspace = self.ops.workspaces.find_workspace(team_id)
        if workspace is None or workspace.id is None:
            return None
        with self.db.read() as session:
            token = installations.bot_token(session, workspace.id, self.cipher)
        if token is None:
            return None
        bot_user = workspace.bot_user_id or ""
        return InstalledBot(team_id, workspace.name, token, bot_user, workspace.created_at)

    def revoked(self, team_id: str, reason: str) -> list[int]:
        """Forget a workspace's bot token and pause what it had queued; return the paused.

        Slack says so for an uninstall or a revoked bot token; saying it twice changes nothing.
        """
        workspace = self.ops.workspaces.find_workspace(team_id)
        if workspace is None or workspace.id is None:
            return []  # never installed here: nothing to forget, nothing made
        with self.db.write() as session:
            paused = self.ops.lifecycle.pause_workspace(session, workspace.id, Actor(SLACK, reason))
            row = session.get(Workspace, workspace.id)
            assert row is not None
            had_token = row.bot_token is not None
            row.bot_token, row.bot_user_id = None, None
            session.add(row)
            if had_token or paused:
                self._record(
                    session, workspace.id, "uninstalled", {"reason": reason, "paused": paused}
                )
        return paused

    def reseal_all(self) -> Resealed:
        """Seal every stored bot token and secret setting again with the first key (rotation),
        those in clear too; say how many of each were, in one transaction.

        :raise TokenKeyError: a token or secret no configured key opens (then none is changed).
        """
        with self.db.write() as session:
            tokens = installations.reseal_all(session, self.cipher)
            secrets = SettingSecrets(self.cipher).reseal_all(session)
        return Resealed(tokens, secrets)

    def _record(
        self, session: Session, workspace_id: int, kind: str, detail: dict[str, object]
    ) -> None:
        action = "install" if kind == "installed" else "uninstall"
        record_audit(
            session,
            workspace_id,
            Actor(SLACK, "Slack"),
            action,
            self.clock.now(),
            origin="system",
            detail=detail,
        )
        session.add(
            Event(
                workspace_id=workspace_id,
                kind=kind,
                actor=SLACK,
                at=self.clock.now(),
                detail={"actor_name": "Slack", **detail},
            )
        )


def installs_for(ops: ReviewOps, keys: Sequence[str]) -> Installs:
    """Build the install use-cases with the token keys of TOKEN_ENCRYPTION_KEYS."""
    return Installs(ops, TokenCipher(keys))
