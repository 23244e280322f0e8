"""Workspaces: the one named or the only one, and their settings (policy)."""

from __future__ import annotations

from sqlmodel import col, select

from bot.domain.errors import InvalidInput, NotFound
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_read import stored_policy
from bot.usecases import loading
from bot.usecases.actors import Actor
from bot.usecases.audit import record_audit, setting_changes
from bot.usecases.services import Services, UseCase
from bot.usecases.setting_secrets import SettingSecrets
from store.models import Event, Workspace


class Workspaces(UseCase):
    """Find or create a workspace; read and store its settings (secrets sealed)."""

    def __init__(self, services: Services, secrets: SettingSecrets) -> None:
        super().__init__(services)
        self.secrets = secrets

    def ensure_workspace(self, team_id: str, name: str = "") -> Workspace:
        """Return the workspace for a Slack team id, creating it with default settings."""
        with self.db.write() as session:
            workspace = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
            if workspace is None:
                policy = WorkspacePolicy(region=self.default_region, business_name=name)
                workspace = Workspace(
                    team_id=team_id,
                    name=name,
                    policy=policy.model_dump(mode="json"),
                    created_at=self.clock.now(),
                )
                session.add(workspace)
                session.flush()
            return workspace

    def installed_workspace(self, team_id: str, *, configured_team: str | None) -> int | None:
        """Return the workspace a Slack team acts in; None when reviewops is not installed there.

        With one workspace's token (SLACK_BOT_TOKEN), `configured_team` is that token's team:
        only it is installed, and its workspace is made on its first request. With OAuth
        (`configured_team` None), a team is installed while its row holds a bot token. Any
        other team (another organisation in a Slack Connect channel, a workspace that
        uninstalled the app) creates nothing and may do nothing.
        """
        if configured_team is not None:
            if team_id != configured_team:
                return None
            found = self.find_workspace(team_id)  # a read: every Slack request passes here
            return (found or self.ensure_workspace(team_id)).id
        with self.db.read() as session:
            workspace = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
        return workspace.id if workspace is not None and workspace.bot_token else None

    def serving(self, workspace_id: int, *, oauth: bool) -> bool:
        """Say whether a machine (an API key) may still act for a workspace.

        With OAuth installs a workspace is served while its row holds a bot token: one that
        uninstalled the app (or whose token was revoked) stops its keys with it. With one
        workspace's token the operator runs the one workspace there is.
        """
        if not oauth:
            return True
        with self.db.read() as session:
            workspace = session.get(Workspace, workspace_id)
        return workspace is not None and bool(workspace.bot_token)

    def find_workspace(self, team_id: str) -> Workspace | None:
        """Return the workspace of a Slack team, if there is one (never creates it)."""
        with self.db.read() as session:
            return session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()

    def only_workspace(self, team_id: str | None = None) -> Workspace:
        """Return the workspace the CLI acts on: the one named, or the only one there is.

        :raise InvalidInput: when several exist and none is named, or the named one is unknown.
        """
        with self.db.read() as session:
            if team_id:
                workspace = session.exec(
                    select(Workspace).where(Workspace.team_id == team_id)
                ).first()
                if workspace is None:
                    raise InvalidInput(f"No workspace {team_id}.", field="workspace")
                return workspace
            workspaces = session.exec(select(Workspace).order_by(col(Workspace.id)).limit(2)).all()
        if len(workspaces) > 1:
            raise InvalidInput(
                "There are several workspaces: choose one with --workspace TEAM_ID.",
                field="workspace",
            )
        if workspaces:
            return workspaces[0]
        return self.ensure_workspace("local", "")

    def policy(self, workspace_id: int) -> WorkspacePolicy:
        """Return a workspace's settings, validated.

        :raise NotFound: no such workspace.
        """
        with self.db.read() as session:
            return loading.policy(session, workspace_id)

    def update_policy(self, workspace_id: int, policy: WorkspacePolicy, actor: Actor) -> None:
        """Store a workspace's validated settings, whole, its secrets sealed (with keys).

        A secret kept from before is the stored value itself (sealed, or in clear from before
        keys were set: sealed now); a new one is the plain value, checked as it was typed.
        """
        with self.db.write() as session:
            workspace = session.get(Workspace, workspace_id)
            if workspace is None:
                raise NotFound("That workspace doesn't exist.")
            before = stored_policy(workspace.policy).model_dump(mode="json")
            after = policy.model_dump(mode="json")
            workspace.policy = self.secrets.sealed(after)
            session.add(workspace)
            changes = setting_changes(before, after)
            changed = {k: change["new"] for k, change in changes.items()}
            now = self.clock.now()
            session.add(
                Event(
                    workspace_id=workspace_id,
                    kind="settings_changed",
                    actor=actor.id,
                    at=now,
                    detail={"changed": changed, "actor_name": actor.name},
                )
            )
            for key, change in changes.items():
                record_audit(
                    session, workspace_id, actor, "settings", now, target=key, detail=change
                )
