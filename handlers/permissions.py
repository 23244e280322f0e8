"""Who may do what in Slack: guests nothing; cancel-all, settings, export and delete for admins.

Slack guests (multi-channel, `is_restricted`, and single-channel, `is_ultra_restricted`) are
outside the shop's team: reviewops shows customers' names and contacts and texts them, so a
guest may not run a command, click a button, submit a modal or see the Home tab's figures.
`services()` (handlers/surface.py) asks `require_member` in every listener, when the user
acts, not when the button was drawn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain.errors import NotAllowed
from bot.domain.policy import WorkspacePolicy
from bot.usecases.review_ops import ReviewOps

log = logging.getLogger(__name__)

# How long a users.info answer is trusted: a promoted, demoted or newly guest user is seen
# within this time, and a burst of clicks costs one call.
CACHE_SECONDS = 60.0
REFUSAL = (
    ":lock: Only workspace admins can {what}. Ask a Slack admin or owner, "
    "or someone in the reviewops admins list (`/reviews settings`)."
)
# Raised as refusals: each surface puts its own warning sign before them.
GUEST_REFUSAL = (
    "Slack guests can't use reviewops: it shows customers' names and contacts and "
    "sends them messages, so it is for the team's full members. Ask a member of your team."
)
UNCHECKED = (
    "reviewops couldn't check your Slack account just now ({error}), so it did "
    "nothing. Try again in a moment."
)


@dataclass(frozen=True)
class SlackRole:
    """What Slack says of a user that matters here."""

    admin: bool  # admin, owner or primary owner of the Slack workspace
    guest: bool  # a multi-channel or single-channel guest


class Permissions:
    """Answer "may this user use reviewops?" and "is this user an admin here?".

    Admins are Slack admins and owners, plus the policy's `admins` list; a guest is never one.
    `users.info` answers are kept for CACHE_SECONDS; a failed call is not kept.
    """

    def __init__(
        self,
        ops: ReviewOps,
        *,
        ttl: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ops = ops
        self.ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, SlackRole]] = {}

    def require_member(self, client: WebClient, team_id: str, user_id: str) -> None:
        """Refuse a Slack guest, or anyone Slack can't tell us about right now.

        :raise NotAllowed: with the reason, for the surface to show the user.
        """
        role = self._role(client, team_id, user_id)
        if isinstance(role, str):
            raise NotAllowed(UNCHECKED.format(error=role))
        if role.guest:
            raise NotAllowed(GUEST_REFUSAL)

    def is_admin(
        self,
        client: WebClient,
        workspace_id: int,
        team_id: str,
        user_id: str,
        *,
        policy: WorkspacePolicy | None = None,
    ) -> bool:
        """Say whether the user administers this workspace (in Slack or in reviewops);
        `policy`: the workspace's settings when the caller has read them already."""
        role = self._role(client, team_id, user_id)
        if isinstance(role, str) or role.guest:
            return False  # refuse rather than guess; a guest is never an admin
        if role.admin:
            return True
        if policy is None:
            policy = self.ops.policy(workspace_id)
        return user_id in policy.admins

    def _role(self, client: WebClient, team_id: str, user_id: str) -> SlackRole | str:
        """Return the user's role, or the reason Slack could not say it."""
        key = (team_id, user_id)
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "error")
            log.warning("users.info failed for %s: %s", user_id, error)
            return error
        except (SlackClientError, OSError) as exc:
            log.warning("users.info failed for %s: %s", user_id, exc)
            return "Slack didn't answer"
        role = SlackRole(
            admin=bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            ),
            guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        )
        with self._lock:
            self._cache[key] = (now, role)
        return role


def refusal(what: str) -> str:
    """Return the polite refusal shown to someone who is not an admin."""
    return REFUSAL.format(what=what)
