"""POST /slack/events: the signature first, then the body, then Bolt.

Order matters: an unsigned, forged or replayed request is refused (401) from its raw bytes, so
nothing it sends is ever parsed; a signed body that is not what Slack sends is refused (400)
before Bolt sees it, with one line in the log instead of a traceback and a 500. The body was
bounded before any of this (bot/http_limits.py). Bolt still checks the signature itself: a
second look, at the cost of one HMAC.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from flask import Request, Response
from slack_bolt import App, BoltContext, BoltRequest
from slack_bolt.adapter.flask.handler import SlackRequestHandler, to_flask_response
from slack_bolt.request.internals import build_context

from bot import tracing
from bot.slack_payload import MalformedPayload, is_ssl_check, read_payload
from bot.slack_signature import signature_problem
from bot.usecases import event_log

log = logging.getLogger(__name__)


class SlackEndpoint:
    """Serve Slack's HTTP requests: verify, read, then dispatch to Bolt."""

    def __init__(
        self, bolt: App, signing_secret: str, *, now: Callable[[], float] = time.time
    ) -> None:
        self.bolt = bolt
        self.signing_secret = signing_secret
        self.now = now  # Slack's timestamps are wall-clock time, whatever the app's clock says
        self._pages = SlackRequestHandler(bolt)  # the OAuth install and redirect pages (GET)

    def handle(self, request: Request) -> Response:
        """Answer one request to /slack/events (POST) or the OAuth pages (GET)."""
        if request.method != "POST":
            return self._pages.handle(request)
        body = request.get_data(cache=True)
        problem = signature_problem(self.signing_secret, request.headers, body, self.now())
        if problem is not None:
            if is_ssl_check(body):  # Slack checks the certificate unsigned: nothing to do
                return Response("", status=200)
            log.warning(
                "refused a Slack request: %s",
                problem,
                extra=event_log.fields("webhook.refused", source="slack", reason=problem),
            )
            return Response("invalid signature\n", status=401, mimetype="text/plain")
        try:
            data = read_payload(body, request.mimetype)
        except MalformedPayload as exc:
            log.warning(
                "refused a signed Slack request that is not Slack's shape: %s",
                exc,
                extra=event_log.fields("webhook.refused", source="slack", reason="malformed"),
            )
            return Response("malformed payload\n", status=400, mimetype="text/plain")
        # Made empty, then given the body as read above: Bolt would parse it again (a button's
        # payload carries its whole message), and its own reading loses a command whose text
        # says "payload". Its signature check reads `raw_body`.
        bolt_request = BoltRequest(
            body="",
            query=request.query_string.decode("utf-8", "replace"),
            headers=_headers(request),
        )
        bolt_request.raw_body = body.decode("utf-8")
        bolt_request.body = data
        bolt_request.context = build_context(BoltContext({}), data)
        with tracing.span("reviewops.slack_request", **_what(data)):
            return to_flask_response(self.bolt.dispatch(bolt_request))


def _headers(request: Request) -> dict[str, str | Sequence[str]]:
    """Each header's values by name, read in one pass over the request's headers."""
    found: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        found.setdefault(name, []).append(value)
    return cast(dict[str, str | Sequence[str]], found)


def _what(data: dict[str, Any]) -> dict[str, Any]:
    """Name a Slack request for its span: workspace, and command or interaction type."""
    team = data.get("team_id")
    if not team and isinstance(data.get("team"), dict):
        team = data["team"].get("id")
    kind = data.get("command") or data.get("type")
    return {
        "workspace": str(team)[:32] if team else None,
        "slack": str(kind)[:64] if kind else None,
    }
