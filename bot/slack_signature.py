"""Slack's request signature (v0, HMAC-SHA256), checked on the raw bytes before any parsing.

https://api.slack.com/authentication/verifying-requests-from-slack: the signature covers
`v0:<timestamp>:<body>`; a timestamp more than five minutes from now is refused, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MAX_AGE_SECONDS = 5 * 60
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


def signature_problem(
    secret: str, headers: Mapping[str, str], body: bytes, now: float
) -> str | None:
    """Return why a request is not Slack's (unsigned, stale, forged), or None when it is."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not (timestamp and signature):
        return "unsigned"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "malformed timestamp"
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "timestamp more than 5 minutes away (a replay?)"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "wrong signature"
    return None
