"""One /reviews call: who typed it, where, and how to answer them."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.domain.policy import WorkspacePolicy
from bot.usecases.actors import Actor
from handlers.blocks.common import Reply
from handlers.surface import Surface


@dataclass
class Invocation:
    """One /reviews call: who, where, and how to answer."""

    surface: Surface
    workspace_id: int
    team_id: str
    actor: Actor
    channel_id: str
    args: str
    trigger_id: str
    response_url: str
    respond: Respond
    client: WebClient

    def is_admin(self, policy: WorkspacePolicy | None = None) -> bool:
        """Say whether the person who typed the command may administer the workspace
        (`policy`: the workspace's settings, when read already)."""
        return self.surface.permissions.is_admin(
            self.client, self.workspace_id, self.team_id, self.actor.id, policy=policy
        )

    def reply(self, reply: Reply) -> None:
        """Answer the person who typed the command, for their eyes only."""
        self.respond(response_type="ephemeral", **reply.as_kwargs())
