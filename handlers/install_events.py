"""Who may act: installed workspaces only; and what uninstalling or revoking a token does.

Every signed Slack request passes `admit_installed` before any listener: a team where
reviewops is not installed (another organisation's user in a Slack Connect channel, with a
single-workspace token; a workspace that uninstalled the app) creates nothing, touches
nothing, and is told so where it asked.

`app_uninstalled` and `tokens_revoked` go through Bolt's own revocation listeners, whose
installation-store calls reach bot/usecases/installs.py: the bot token is forgotten and the
queued messages paused. A user revoking their token reaches `delete_installation` with their
id, which touches nothing: the bot token goes only by `delete_bot`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.listener.builtins import TokenRevocationListeners
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.oauth.installation_store import InstallationStore

from bot.domain.errors import NotAllowed
from bot.usecases.installs import Installs
from bot.usecases.review_ops import ReviewOps
from handlers.install_words import NOT_INSTALLED
from handlers.step_runs import fail_step, is_step_run
from handlers.surface import Registered, Surface

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
            return _not_installed(context, body, respond)
        except Exception:  # noqa: BLE001  (the database, most likely: see below)
            # Not checked, so not admitted here: the listener asks again through the same
            # `workspace_id`, and its guard tells the user why it failed on their surface.
            log.warning("could not check a Slack request's workspace", exc_info=True)
        next()
        return None

    return admit


def admit_step_runs(ops: ReviewOps) -> Callable[..., BoltResponse | None]:
    """Build the middleware, run before Bolt's OAuth authorization, that ends a step run from a
    team where reviewops is not installed.

    Bolt's authorization answers such a team itself, before `admit_installed`, which would leave
    a workflow step's run waiting for an end that never comes. The rule is the same one
    (`installed_workspace`, with OAuth: a workspace that holds a bot token).
    """

    def admit(
        context: BoltContext,
        body: dict[str, Any],
        next: Callable[[], None],  # noqa: A002  (Bolt's name)
    ) -> BoltResponse | None:
        if is_step_run(body):
            team_id = str(context.team_id or context.enterprise_id or "")
            try:
                installed = ops.workspaces.installed_workspace(team_id, configured_team=None)
            except Exception:  # noqa: BLE001  (the database: Bolt's authorization fails next)
                log.warning("could not check a workflow step run's workspace", exc_info=True)
                installed = -1
            if installed is None:
                log.warning("ended a workflow step run from %s: not installed there", team_id)
                return _not_installed(context, body, None)
        next()
        return None

    return admit


def _not_installed(
    context: BoltContext, body: dict[str, Any], respond: Respond | None
) -> BoltResponse:
    """Answer a request from a team where reviewops is not installed, where it was asked."""
    if is_step_run(body):
        # A workflow step's run waits for an answer: it ends, failed, with the reason.
        try:
            fail_step(context.client, body, NOT_INSTALLED)
        except (SlackApiError, SlackRequestError, OSError):
            log.warning(
                "couldn't end a workflow step's run from an uninstalled team", exc_info=True
            )
        return BoltResponse(status=200, body="")
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


class _Revocations(InstallationStore):
    """What Bolt's revocation listeners ask of an installation store, said to Installs."""

    def __init__(self, installs: Installs, reason: str) -> None:
        self.installs = installs
        self.reason = reason

    @property
    def logger(self) -> logging.Logger:
        return log

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if team_id:
            paused = self.installs.revoked(team_id, self.reason)
            log.warning("%s in %s: bot token deleted, %d paused", self.reason, team_id, len(paused))

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        # No user tokens are kept, and a user's revoke never takes the bot token with it.
        return None


def register(bolt: App, installs: Installs, registered: Registered) -> None:
    """Listen to app_uninstalled and tokens_revoked with Bolt's revocation listeners.

    They run before Slack gets its answer: an error (the database down) answers 500, and
    Slack sends the event again; a second delivery changes nothing more.
    """
    uninstalled = TokenRevocationListeners(_Revocations(installs, "Slack: app uninstalled"))
    revoked = TokenRevocationListeners(_Revocations(installs, "Slack: bot token revoked"))

    def on_app_uninstalled(context: BoltContext) -> None:
        uninstalled.handle_app_uninstalled_events(context)

    def on_tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
        revoked.handle_tokens_revoked_events(event, context)

    for name, listener in (
        ("app_uninstalled", on_app_uninstalled),
        ("tokens_revoked", on_tokens_revoked),
    ):
        # Every error is answered, by the 500 that makes Slack deliver the event again.
        setattr(listener, "answers_every_error", True)  # noqa: B010  (read by a test)
        bolt.event(name)(listener)
        registered.events.append(name)
