"""Who may act: installed workspaces only; and what uninstalling or revoking a token does.

Every signed Slack request passes `admit_installed` before any listener: a team where
reviewops is not installed (another organisation's user in a Slack Connect channel, with a
single-workspace token; a workspace that uninstalled the app) creates nothing, touches
nothing, and is told so where it asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_bolt.context.respond import Respond

from bot.domain.errors import NotAllowed
from handlers.install_words import NOT_INSTALLED
from handlers.surface import Surface

log = logging.getLogger(__name__)

# Slack tells us of these whatever the workspace's state: they admit no one, they revoke.
REVOCATION_EVENTS = ("app_uninstalled", "tokens_revoked")


def is_revocation(body: dict[str, Any]) -> bool:
    """Say whether a request is Slack telling us the app was uninstalled or tokens revoked."""
    event = body.get("event") or {}
    return body.get("type") == "event_callback" and event.get("type") in REVOCATION_EVENTS


def admit_installed(surface: Surface) -> Callable[..., Any]:
    """Build the global middleware that lets only installed workspaces' requests through.

    The rule is `Surface.workspace_id`'s (every listener resolves its workspace there too):
    with one workspace's token, that token's team; with OAuth, a team whose workspace holds
    a bot token.
    """

    def admit(
        context: BoltContext,
        body: dict[str, Any],
        respond: Respond | None,
        next: Callable[[], None],  # noqa: A002  (Bolt's name)
    ) -> BoltResponse | None:
        if is_revocation(body):
            next()
            return None
        try:
            surface.workspace_id(context)
        except NotAllowed:
            team_id = context.team_id or context.enterprise_id
            log.warning(
                "refused a Slack request from %s: reviewops is not installed there", team_id
            )
            return _not_installed(body, respond)
        except Exception:  # noqa: BLE001  (the database, most likely: see below)
            # Not checked, so not admitted here: the listener asks again through the same
            # `workspace_id`, and its guard tells the user why it failed on their surface.
            log.warning("could not check a Slack request's workspace", exc_info=True)
        next()
        return None

    return admit


def _not_installed(body: dict[str, Any], respond: Respond | None) -> BoltResponse:
    """Answer a request from a team where reviewops is not installed, where it was asked."""
    if "command" in body:
        return BoltResponse(status=200, body=NOT_INSTALLED)  # shown to the user, ephemeral
    if body.get("type") == "view_submission":
        view = {
            "type": "modal",
            "title": {"type": "plain_text", "text": "reviewops"},
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": NOT_INSTALLED}}],
        }
        return BoltResponse(status=200, body={"response_action": "update", "view": view})
    if respond is not None and body.get("response_url"):
        respond(text=NOT_INSTALLED, response_type="ephemeral", replace_original=False)
    return BoltResponse(status=200, body="")
