"""Slack Web API errors in the outbox's words: wait (429), retry later (5xx, network), or give up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

MAX_BACKOFF_SECONDS = 300
DEFAULT_RETRY_AFTER_SECONDS = 30

# Slack errors that say "not now" rather than "never": the workspace may be reinstalled.
TRANSIENT_ERRORS = frozenset(
    {
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "team_access_not_granted",
    }
)


@dataclass(frozen=True)
class Failure:
    kind: str  # ratelimited, transient, permanent
    error: str
    retry_after: float = 0.0


def classify(exc: Exception) -> Failure:
    """Say whether a Slack call's error means wait (429), retry later (5xx, network) or give up."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 200) or 200)
        data = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error") or f"HTTP {status}")
        if status == 429 or error == "ratelimited":
            headers = {k.lower(): v for k, v in (response.headers or {}).items()}
            return Failure("ratelimited", error, _retry_after(headers.get("retry-after")))
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Failure("transient", error)
        return Failure("permanent", error)
    return Failure("transient", f"{type(exc).__name__}: {exc}")


def backoff_seconds(attempts: int) -> int:
    """Return the wait after the n-th failed attempt: 2, 4, 8 ... seconds, at most 5 minutes."""
    return min(2 ** max(attempts, 1), MAX_BACKOFF_SECONDS)


def _retry_after(value: Any) -> float:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(float(value), 1.0)
    except (TypeError, ValueError):
        return float(DEFAULT_RETRY_AFTER_SECONDS)
