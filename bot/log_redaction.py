"""Secrets that travel in URLs, and the row values a database error quotes, never reach a log: link tokens, OAuth `code` and `state`, and
the REST API's search text `q` (a customer's name, phone or email).

A tracked link (`/r/<token>`), open pixel (`/o/<token>.gif`) or unsubscribe link (`/u/<token>`)
carries a token that acts for one customer's message (anyone holding it can unsubscribe them);
Slack's OAuth redirect carries a one-time `code` and the `state` that guards it. Access logs are
read and shipped more widely than the database, so these are replaced by `[redacted]` in
gunicorn's access log (`RedactingLogger`) and in every log record of every process
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
# `q` is the REST API's search: a customer's name, phone or email.
_SECRET_PARAM = re.compile(r"([?&;](?:code|state|token|q)=)[^&#;\s\"']+", re.IGNORECASE)


# PostgreSQL quotes the values of a violated constraint ("DETAIL:  Key (workspace_id, phone)=(1,
# +336...) already exists", "Failing row contains (...)"): a customer's number, address or name.
# Parameters themselves never reach an error (create_engine(hide_parameters=True), store/db.py).
_DB_KEY_VALUES = re.compile(
    r"(Key \([^()\n]{0,200}\)=\()[^\n]*?(\) already exists|\) is not present)"
)
_DB_FAILING_ROW = re.compile(r"(Failing row contains \()[^\n]*")


def redact_database_detail(text: str) -> str:
    """Replace the row values PostgreSQL quotes in a constraint error."""
    if "Key (" not in text and "Failing row" not in text:
        return text
    text = _DB_KEY_VALUES.sub(r"\1" + REDACTED + r"\2", text)
    return _DB_FAILING_ROW.sub(r"\1" + REDACTED + ")", text)


def redact_url(text: str) -> str:
    """Replace link tokens and OAuth secrets in a URL (or a log line holding URLs)."""
    if "/" not in text and "=" not in text:
        return text
    return _SECRET_PARAM.sub(r"\1" + REDACTED, _LINK_TOKEN.sub(r"\1" + REDACTED, text))


# Probes a load balancer or Prometheus sends every few seconds: not logged when they succeed.
QUIET_PATHS = frozenset({"/healthz", "/metrics"})


class RedactingLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's logger, its access-log fields (request line, path, query, referer) redacted,
    its lines in our format (bot/logging_setup.py), successful probes left out."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from bot.logging_setup import adopt  # imported here: logging_setup imports this module

        adopt(self.error_log, self.access_log)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        status = str(getattr(resp, "status", "") or "")
        if environ.get("PATH_INFO") in QUIET_PATHS and status.startswith("2"):
            return
        super().access(resp, req, environ, request_time)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact_url(v) if isinstance(v, str) else v for k, v in atoms.items()}


class RedactUrls(logging.Filter):
    """A handler filter redacting every record's message (ours, Flask's, Bolt's, gunicorn's)
    and its traceback: URL secrets, and the row values a database error quotes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_database_detail(redact_url(message))
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatted once here, redacted, and kept as the record's text (the text and JSON
            # formatters both print exc_text when exc_info is gone).
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_database_detail(redact_url(text))
            record.exc_info = None
        return True


def redact_handlers(*loggers: logging.Logger) -> None:
    """Put the filter on the handlers of these loggers (the root logger by default)."""
    for logger in loggers or (logging.getLogger(),):
        for handler in logger.handlers:
            if not any(isinstance(f, RedactUrls) for f in handler.filters):
                handler.addFilter(RedactUrls())
