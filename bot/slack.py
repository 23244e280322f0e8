"""The Slack app: Bolt wired to the use-cases, served at POST /slack/events or over Socket Mode."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from slack_bolt import App, BoltResponse
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry import RateLimitErrorRetryHandler, default_retry_handlers
from slack_sdk.webhook import WebhookClient

from bot.app import ReviewOpsApp
from bot.failures import failure_text
from bot.settings import Settings
from bot.slack_install import INSTALL_PATH, REDIRECT_PATH, oauth_settings
from handlers.install_events import admit_step_runs
from handlers.install_words import NOT_INSTALLED
from handlers.listener_pool import ListenerPool
from handlers.registry import register_handlers
from handlers.step_runs import UNKNOWN_STEP, fail_step, is_step_run
from handlers.surface import Registered, Surface

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
NOT_CONFIGURED = (
    "Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (one workspace), "
    "or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET (OAuth install)."
)


@dataclass
class BoltWiring:
    """The Bolt app and the services its listeners share, kept on the app once built."""

    bolt: App
    services: Surface
    listeners: ListenerPool

    @property
    def registered(self) -> Registered:
        """Return what the listeners registered (checked against manifest.yml)."""
        return self.services.registered


def make_web_client(settings: Settings, *, oauth: bool = False) -> WebClient:
    """Build the WebClient for listeners: Slack's base URL from settings, retrying on 429.

    With OAuth, Bolt gives each request a copy holding that workspace's installed token.
    """
    base_url = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else settings.slack_api_url + "/"
    )
    return WebClient(
        token=None if oauth else settings.slack_bot_token,
        base_url=base_url,
        retry_handlers=[*default_retry_handlers(), RateLimitErrorRetryHandler(max_retry_count=2)],
    )


def create_bolt_app(app: ReviewOpsApp, *, client: WebClient, socket_mode: bool = False) -> App:
    """Build the Bolt app with every /reviews listener and one error handler."""
    oauth = None if socket_mode else oauth_settings(app.settings, app.ops)
    bolt = App(
        client=client,
        oauth_settings=oauth,
        # OAuth answers a team without an installation before our middleware: a workflow
        # step's run from one is ended here first (handlers/install_events.py).
        before_authorize=admit_step_runs(app.ops) if oauth is not None else None,
        signing_secret=app.settings.slack_signing_secret or "",
        raise_error_for_unhandled_request=True,
        # OAuth: what a team without an installation is told (single token: our middleware).
        user_facing_authorize_error_message=NOT_INSTALLED,
        # Listeners are called on the request's thread and hand themselves to our pool, which
        # answers Slack the moment they ack (Bolt's own path polls every 10 ms for the ack
        # from a pool of 5 threads shared with every listener's slow part).
        process_before_response=True,
        # Socket Mode requests come over an authenticated socket, not signed HTTP.
        request_verification_enabled=not socket_mode,
        logger=logging.getLogger("slack_bolt"),
    )

    @bolt.error
    def on_error(error: Exception, body: dict[str, Any], client: WebClient) -> BoltResponse | None:
        if isinstance(error, BoltUnhandledRequestError):
            log.warning("No listener for this Slack request (%s)", _describe(body))
            if is_step_run(body):
                # A workflow still runs a step we no longer have: end the run, and no retry.
                _apologize(client, body, UNKNOWN_STEP)
                return BoltResponse(status=200, body="")
            return None
        log.exception("Slack listener failed (%s)", _describe(body), exc_info=error)
        _apologize(client, body, failure_text(error))
        return None

    pool = ListenerPool()
    bolt.use(pool.provide)
    app.slack = BoltWiring(bolt, register_handlers(bolt, app), pool)
    return bolt


def _describe(body: dict[str, Any]) -> str:
    kind = body.get("type") or ("command" if "command" in body else "request")
    what = body.get("command") or (body.get("event") or {}).get("type")
    if body.get("actions"):
        what = body["actions"][0].get("action_id")
    if body.get("view"):
        what = body["view"].get("callback_id")
    return f"{kind} {what or ''}".strip()


def _apologize(client: WebClient, body: dict[str, Any], text: str) -> None:
    """Tell the person whose request failed outside a listener's guard, if they can be reached."""
    url = body.get("response_url") or next(
        (u.get("response_url") for u in body.get("response_urls") or []), None
    )
    try:
        if is_step_run(body):  # a workflow step's run waits for its end: it fails, saying why
            fail_step(client, body, text)
            return
        if url:
            WebhookClient(url).send(text=text, response_type="ephemeral", replace_original=False)
            return
        user = body.get("user_id") or (body.get("user") or {}).get("id")
        channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
        if user and channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
    except (SlackApiError, SlackRequestError, OSError):
        log.warning("Couldn't tell the user about the error", exc_info=True)


def slack_ready(settings: Settings) -> bool:
    """Say whether the settings hold what serving Slack over HTTP needs."""
    return bool(
        settings.slack_signing_secret and (settings.slack_bot_token or settings.oauth_installs)
    )


def install_slack(app: ReviewOpsApp) -> bool:
    """Mount POST /slack/events on the Flask app that `create_flask` builds; say so if Slack is off."""
    settings = app.settings
    oauth = settings.oauth_installs
    if not slack_ready(settings):
        log.warning(NOT_CONFIGURED)
        return False

    def hook(flask_app: Flask) -> None:
        from bot.slack_endpoint import SlackEndpoint

        bolt = create_bolt_app(app, client=make_web_client(settings, oauth=oauth))
        endpoint = SlackEndpoint(bolt, settings.slack_signing_secret or "")

        def slack_events() -> Response:
            return endpoint.handle(request)

        flask_app.add_url_rule(EVENTS_PATH, "slack_events", slack_events, methods=["POST"])
        if oauth:
            flask_app.add_url_rule(INSTALL_PATH, "slack_install", slack_events, methods=["GET"])
            flask_app.add_url_rule(
                REDIRECT_PATH, "slack_oauth_redirect", slack_events, methods=["GET"]
            )

    app.flask_hooks.append(hook)
    return True


def connect_socket_mode(app: ReviewOpsApp) -> Any:
    """Open the Socket Mode connection in the background (development: no public URL needed).

    :raise RuntimeError: SLACK_APP_TOKEN or SLACK_BOT_TOKEN is missing.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    settings = app.settings
    if not (settings.slack_app_token and settings.slack_bot_token):
        raise RuntimeError("Socket Mode needs SLACK_APP_TOKEN (xapp-...) and SLACK_BOT_TOKEN.")
    bolt = create_bolt_app(app, client=make_web_client(settings), socket_mode=True)
    handler = SocketModeHandler(bolt, settings.slack_app_token)
    handler.connect()
    return handler
