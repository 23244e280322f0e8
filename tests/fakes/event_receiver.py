"""A customer's event endpoint: a real HTTP server on 127.0.0.1 that checks each event's
Standard Webhooks signature the way a customer's code does (the `standardwebhooks` library),
keeps every attempt, takes each event id once, and answers as the test scripts it."""

from __future__ import annotations

import base64
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

TOLERANCE = timedelta(minutes=5)  # the library's own window
SLOW = "slow"  # hold the answer until released: the caller times out after the event was taken


@dataclass
class Attempt:
    headers: dict[str, str]
    body: bytes
    verified: bool
    path: str

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class EventReceiver:
    """Receive events; `answers` are played in order (status codes or SLOW), then 204."""

    def __init__(self, secret: str, now: Callable[[], datetime]) -> None:
        self.secret = secret
        self.now = now
        self.answers: list[int | str] = []
        self.attempts: list[Attempt] = []
        self.taken: list[dict[str, Any]] = []  # first delivery of each event id, in order
        self.duplicates: list[str] = []
        self.on_attempt: Callable[[Attempt], None] | None = None
        # An answer chosen by the delivery itself (None: the next of `answers`), for tests
        # where several workspaces post at once and their order is not known.
        self.answer_for: Callable[[Attempt], int | str | None] | None = None
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}/hooks/reviews"

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        """Check a delivery as `Webhook.verify` does, against the test's clock."""
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id, stamp = lowered.get("webhook-id"), lowered.get("webhook-timestamp")
        signatures = lowered.get("webhook-signature", "")
        if not msg_id or not stamp or not stamp.isdigit():
            return False
        when = datetime.fromtimestamp(int(stamp), tz=UTC)
        if abs(when - self.now()) > TOLERANCE:
            return False
        expected = Webhook(self.secret).sign(msg_id, when, body.decode()).split(",", 1)[1]
        for signature in signatures.split(" "):
            version, _, value = signature.partition(",")
            if version == "v1" and hmac.compare_digest(
                base64.b64decode(value), base64.b64decode(expected)
            ):
                return True
        return False

    def start(self) -> EventReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._handle(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        attempt = Attempt(headers, body, self.verify(body, headers), handler.path)
        with self._lock:
            self.attempts.append(attempt)
            chosen = self.answer_for(attempt) if self.answer_for is not None else None
            answer = chosen if chosen is not None else self.answers.pop(0) if self.answers else 204
            if attempt.verified and (answer == SLOW or 200 <= int(answer) < 300):
                event_id = headers.get("webhook-id", "")
                if event_id in {e["id"] for e in self.taken}:
                    self.duplicates.append(event_id)
                else:
                    self.taken.append(attempt.event)
        if self.on_attempt is not None:
            self.on_attempt(attempt)
        if answer == SLOW:
            self.release.wait(10)
            answer = 204
        code = int(answer) if attempt.verified else 401
        try:
            handler.send_response(code)
            if 300 <= code < 400:
                handler.send_header("Location", "/elsewhere")
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"ok")
        except OSError:
            pass  # the caller gave up waiting (SLOW)

    def close(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> EventReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
