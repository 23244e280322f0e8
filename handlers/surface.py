"""What every Slack listener shares: the wired app, permissions and workspace resolution."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.app import ReviewOpsApp
from bot.domain.errors import NotAllowed
from bot.domain.policy import WorkspacePolicy
from bot.usecases.actors import Actor
from bot.usecases.feedback import Feedback
from handlers.blocks.detail import SenderInfo
from handlers.install_words import NOT_INSTALLED
from handlers.permissions import Permissions

SERVICES = "reviewops"  # the Bolt context key that holds our Surface


@dataclass
class Registered:
    """What the Slack surface listens to, recorded as it registers (checked against manifest.yml)."""

    commands: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)  # workflow steps (manifest `functions`)


class Surface:
    """What every listener needs: the wired app, permissions, and workspace resolution."""

    def __init__(
        self, app: ReviewOpsApp, permissions: Permissions, *, single_team: bool = True
    ) -> None:
        self.app = app
        # One workspace's token (not OAuth): that token's team is the only one installed.
        self.single_team = single_team
        self.ops = app.ops
        self.permissions = permissions
        self.feedback = Feedback(app.ops)  # the team's decisions on unknown outcomes
        self.registered = Registered()
        self._workspaces: dict[str, int] = {}
        self._lock = threading.Lock()

    def workspace_id(self, context: BoltContext | dict[str, Any]) -> int:
        """Return our workspace for the Slack team of a request.

        :raise NotAllowed: reviewops is not installed in that team (nothing is created).
        """
        team_id = context.get("team_id") or context.get("enterprise_id") or ""
        if not team_id:
            raise ValueError("a Slack request without a team id")
        with self._lock:
            cached = self._workspaces.get(team_id)
        if cached is not None:
            return cached
        authorized = context.get("authorize_result")  # single token: Bolt's auth.test
        configured = str(authorized.team_id or "") if self.single_team and authorized else None
        found = self.ops.workspaces.installed_workspace(team_id, configured_team=configured)
        if found is None:
            raise NotAllowed(NOT_INSTALLED)
        with self._lock:
            self._workspaces[team_id] = found
        return found

    def is_admin(
        self,
        client: WebClient,
        context: BoltContext,
        user_id: str,
        policy: WorkspacePolicy | None = None,
    ) -> bool:
        """Say whether a Slack user may administer this request's workspace (`policy`: its
        settings, when read already)."""
        team_id = str(context.team_id or "")
        return self.permissions.is_admin(
            client, self.workspace_id(context), team_id, user_id, policy=policy
        )

    def sender_info(self) -> SenderInfo:
        """Return the deployment's sender defaults, shown where the workspace sets none."""
        settings = self.app.settings
        return SenderInfo(
            email_from=settings.email_from,
            email_reply_to=settings.email_reply_to,
            sms_from=settings.twilio_from,
        )


def actor_of(body: dict[str, Any]) -> Actor:
    """Return who clicked or typed, from a command, action or view payload."""
    if "user_id" in body:  # slash command
        return Actor(str(body["user_id"]), str(body.get("user_name") or ""))
    user = body.get("user") or {}
    return Actor(str(user.get("id", "")), str(user.get("username") or user.get("name") or ""))


def first_action(body: dict[str, Any]) -> dict[str, Any]:
    """Return the button or menu use a block_actions payload carries ({} if none)."""
    actions = body.get("actions") or [{}]
    return dict(actions[0])


def services(context: BoltContext) -> Surface:
    """Return what every listener shares, put in the request's context by `provide_services`.

    Every listener starts with this call, so it is where a Slack guest is refused (the rule is
    `Permissions.require_member`): after the listener's ack, when the user acts.

    :raise NotAllowed: the user is a Slack guest, or Slack could not say who they are.
    """
    surface = cast(Surface, context[SERVICES])
    if context.user_id and context.client is not None:
        team_id = str(context.team_id or "")  # the key `is_admin` caches under
        surface.permissions.require_member(context.client, team_id, context.user_id)
    return surface


def provide_services(surface: Surface) -> Callable[..., None]:
    """Build the global middleware that hands `surface` to every listener through the context."""

    def put_services(context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002  (Bolt's name)
        context[SERVICES] = surface
        next()

    return put_services
