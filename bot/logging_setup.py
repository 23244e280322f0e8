"""Logging of every reviewops process: one stderr handler, text or JSON lines, quiet libraries.

`serve`, `worker` and every CLI command call `configure` once, with LOG_LEVEL and LOG_FORMAT
(read in bot/settings.py). Our lines are one per meaningful event (bot/usecases/event_log.py);
the libraries' chatter (APScheduler's two lines per job run, the twilio SDK's request dumps,
Alembic's migration steps) stays at WARNING unless LOG_LEVEL=DEBUG. Every record passes the
URL-secret filter of bot/log_redaction.py on its way out.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from bot.log_redaction import RedactUrls

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log routine work at INFO: APScheduler every job run ("Running job ...",
# "executed successfully"), twilio every request's headers, Alembic every migration step.
QUIET_LIBRARIES = (
    "apscheduler",
    "twilio.http_client",
    "alembic",
    "urllib3",
    "slack_sdk",
    "slack_bolt",
    "werkzeug",
)

_HANDLER_NAME = "reviewops"


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever sys.stderr is at each record (a CLI runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class _EventDefault(logging.Filter):
    """Give every record an `event` (a library's line is `log`), so JSON keys never vary."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "event"):
            record.event = "log"
        return True


class _Json(JsonFormatter):
    """One JSON object a line: `time` (UTC, ISO 8601, milliseconds), `level`, `logger`,
    `event`, `message`, in that order, then the event's fields (`extra=`)."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(event)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_data, record, message_dict)


def formatter(log_format: str) -> logging.Formatter:
    """Return the formatter of LOG_FORMAT: `text` for people, `json` for log pipelines."""
    return _Json() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(
    level: str = "INFO", log_format: str = "text", *, stream: TextIO | None = None
) -> None:
    """Send every record at `level` or above to stderr (or `stream`), one line each.

    Called again (a test, a second command in one process) it replaces its own handler.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(_EventDefault())
    handler.addFilter(RedactUrls())
    root.addHandler(handler)
    root.setLevel(level)
    # No line we print names its source line or thread: don't look them up for every record
    # (the logging HOWTO's "Optimization"; a worker logs a line per message it sends).
    logging._srcfile = None
    logging.logThreads = False
    library_level = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)


def adopt(*loggers: logging.Logger) -> None:
    """Send these loggers' records (gunicorn's) through our handler, once `configure` ran."""
    if not any(h.get_name() == _HANDLER_NAME for h in logging.getLogger().handlers):
        return
    for logger in loggers:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
