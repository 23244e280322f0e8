"""The one body-size rule of every HTTP route: at most a route's maximum is ever read.

A WSGI middleware in front of Flask (installed by `bot.server.create_flask`), so nothing behind
it (Flask's form parser, Bolt's body parser, a route) can read more than the route allows:

- a `Content-Length` over the maximum is refused with 413 before one byte is read;
- a body of no announced length (chunked) is read up to the maximum plus one byte: one byte
  more than allowed is enough to refuse it with 413, whatever follows;
- a body that fits is handed on, already read, with its exact length.

The maxima are those of the senders, with a wide margin: a legitimate request never comes
near them, and a 100 MB POST costs the worker one maximum of memory at most.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

KB = 1024
MB = 1024 * KB
READ_CHUNK = 64 * KB

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class RouteLimit:
    """The largest body a group of routes accepts, and why."""

    prefix: str
    max_bytes: int
    why: str
    problem_json: bool = False  # refusals as RFC 9457 problem details (the REST API's errors)


# The first prefix that matches a path is its limit; other paths get DEFAULT_LIMIT.
ROUTE_LIMITS: tuple[RouteLimit, ...] = (
    # Slack's largest payloads are a 100-block modal's view_submission or a block_actions
    # carrying a 50-block message (Slack's own caps), URL-encoded JSON: well under 1 MB.
    RouteLimit("/slack/", 1 * MB, "Slack events, commands and interactivity"),
    # A Twilio status callback or inbound SMS is a form of about 1 KB (an SMS body is at most
    # 1,600 characters, media as URLs).
    RouteLimit("/webhooks/twilio/", 64 * KB, "Twilio status callbacks and inbound messages"),
    # A Mailgun event is a JSON document of a few KB (headers, delivery status, user
    # variables); Mailgun documents no maximum, so the margin is wide.
    RouteLimit("/webhooks/email/", 256 * KB, "email provider events (Mailgun)"),
    # A Shopify order is JSON of a few KB, growing with its line items (a large order: a few
    # hundred KB); a Stripe event is a few KB.
    RouteLimit("/webhooks/shopify/", 1 * MB, "Shopify order webhooks"),
    RouteLimit("/webhooks/stripe/", 256 * KB, "Stripe events"),
    # RFC 8058's one-click POST is `List-Unsubscribe=One-Click`; our page adds `confirm=yes`.
    RouteLimit("/u/", 4 * KB, "unsubscribe"),
    # A request to create is a JSON object of a dozen short fields (about 1 KB at most).
    RouteLimit("/api/", 16 * KB, "the REST API", problem_json=True),
)
DEFAULT_LIMIT = RouteLimit("/", 64 * KB, "any other route")


def limit_for(path: str, limits: tuple[RouteLimit, ...] = ROUTE_LIMITS) -> RouteLimit:
    """Return the limit of the route a path belongs to."""
    return next((limit for limit in limits if path.startswith(limit.prefix)), DEFAULT_LIMIT)


class BodyLimit:
    """WSGI middleware applying the route's maximum to every request body (see the module)."""

    def __init__(self, app: WsgiApp, limits: tuple[RouteLimit, ...] = ROUTE_LIMITS) -> None:
        self.app = app
        self.limits = limits

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        limit = limit_for(environ.get("PATH_INFO") or "/", self.limits)
        refused = _read_bounded(environ, limit.max_bytes)
        if refused is not None:
            status, text = refused
            log.warning(
                "refused a %s %s body: %s (limit %d bytes)",
                environ.get("REQUEST_METHOD", "?"),
                limit.why,
                text,
                limit.max_bytes,
            )
            body, kind = _refusal(status, text, problem_json=limit.problem_json)
            start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


def _refusal(status: str, text: str, *, problem_json: bool) -> tuple[bytes, str]:
    """The body and type of a refusal: a line of text, or a problem document."""
    if not problem_json:
        return f"{text}\n".encode(), "text/plain"
    code, _, title = status.partition(" ")
    problem = {"type": "about:blank", "title": title, "status": int(code), "detail": text}
    return json.dumps(problem).encode(), "application/problem+json"


def _read_bounded(environ: dict[str, Any], max_bytes: int) -> tuple[str, str] | None:
    """Replace the request's input with its body, read up to `max_bytes`; or say why not."""
    announced = (environ.get("CONTENT_LENGTH") or "").strip()
    if announced:
        if not announced.isdigit():
            return "400 Bad Request", "invalid Content-Length"
        size = int(announced)
        if size > max_bytes:
            return "413 Content Too Large", "body too large"
        body = _read(environ["wsgi.input"], size)
        if len(body) < size:
            return "400 Bad Request", "body shorter than its Content-Length"
    elif environ.get("wsgi.input_terminated"):
        # Chunked: the server ends the stream at the last chunk; one byte over is enough.
        body = _read(environ["wsgi.input"], max_bytes + 1)
        if len(body) > max_bytes:
            return "413 Content Too Large", "body too large"
    else:
        body = b""  # no length and no chunks: HTTP says there is no body
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return None


def _read(stream: Any, size: int) -> bytes:
    """Read up to `size` bytes, in chunks (a chunked stream may return less than asked)."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = stream.read(min(left, READ_CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
