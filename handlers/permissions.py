"""Who may do what: cancel-all, settings and export are for workspace admins."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.usecases.review_ops import ReviewOps

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
REFUSAL = (
    ":lock: Only workspace admins can {what}. Ask a Slack admin or owner, "
    "or someone in the reviewops admins list (`/reviews settings`)."
)


class Permissions:
    """Answer "is this user an admin here?": Slack admins and owners, plus the policy's list.

    `users.info` answers are kept for a minute, so a burst of clicks costs one call.
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
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    def is_admin(self, client: WebClient, workspace_id: int, team_id: str, user_id: str) -> bool:
        """Say whether the user administers this workspace (in Slack or in reviewops)."""
        if user_id in self.ops.policy(workspace_id).admins:
            return True
        return self._slack_admin(client, team_id, user_id)

    def _slack_admin(self, client: WebClient, team_id: str, user_id: str) -> bool:
        key = (team_id, user_id)
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            # Refuse rather than guess; not cached, so the next try asks Slack again.
            log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
            return False
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        with self._lock:
            self._cache[key] = (now, admin)
        return admin


def refusal(what: str) -> str:
    """Return the polite refusal shown to someone who is not an admin."""
    return REFUSAL.format(what=what)
