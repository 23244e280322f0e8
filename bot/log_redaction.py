"""Secrets that travel in URLs never reach a log: link tokens, OAuth `code` and `state`.

A tracked link (`/r/<token>`), open pixel (`/o/<token>.gif`) or unsubscribe link (`/u/<token>`)
carries a token that acts for one customer's message (anyone holding it can unsubscribe them);
Slack's OAuth redirect carries a one-time `code` and the `state` that guards it. Access logs are
read and shipped more widely than the database, so these are replaced by `[redacted]` in
gunicorn's access log (`RedactingLogger`) and in every log record of the web tier
(`RedactUrls`, a handler filter).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

REDACTED = "[redacted]"
# Single character classes, no nested quantifiers: linear on any input.
# Link tokens are URL-safe base64 (`.gif` after a pixel's is hidden with it).
_LINK_TOKEN = re.compile(r"(/[rou]/)[\w\-.~%]+")
_SECRET_PARAM = re.compile(r"([?&;](?:code|state|token)=)[^&#;\s\"']+", re.IGNORECASE)


def redact_url(text: str) -> str:
    """Replace link tokens and OAuth secrets in a URL (or a log line holding URLs)."""
    if "/" not in text and "=" not in text:
        return text
    return _SECRET_PARAM.sub(r"\1" + REDACTED, _LINK_TOKEN.sub(r"\1" + REDACTED, text))


class RedactingLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's logger, its access-log fields (request line, path, query, referer) redacted."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact_url(v) if isinstance(v, str) else v for k, v in atoms.items()}


class RedactUrls(logging.Filter):
    """A handler filter redacting every record's message (ours, Flask's, Bolt's, gunicorn's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_url(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_handlers(*loggers: logging.Logger) -> None:
    """Put the filter on the handlers of these loggers (the root logger by default)."""
    for logger in loggers or (logging.getLogger(),):
        for handler in logger.handlers:
            if not any(isinstance(f, RedactUrls) for f in handler.filters):
                handler.addFilter(RedactUrls())
