"""Who calls the API: `Authorization: Bearer <key>`, and how fast each key may call it.

The rate is a token bucket per key, in this process: a key gets API_BURST calls at once, then
API_RATE_PER_MINUTE. With several web workers (gunicorn processes) each keeps its own buckets,
so a key may reach up to that many times the rate across them; the limit protects a worker
from one noisy key, it is not a billing quota.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from flask import Request

from bot.api.problems import ApiProblem
from bot.usecases.api_keys import ApiKeys, KeyHolder

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="reviewops"'}
REFUSED = {"WWW-Authenticate": 'Bearer realm="reviewops", error="invalid_token"'}


def key_holder(request: Request, keys: ApiKeys) -> KeyHolder:
    """Return the key the request presents.

    :raise ApiProblem: 401, no `Authorization: Bearer` header, or an unknown or revoked key.
    """
    scheme, _, secret = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(
            401,
            "Unauthorized",
            "Send your API key as `Authorization: Bearer <key>`.",
            headers=CHALLENGE,
        )
    holder = keys.holder(secret.strip())
    if holder is None:
        # One answer for unknown and revoked keys: a caller learns nothing about other keys.
        raise ApiProblem(
            401,
            "Unauthorized",
            "This API key is not valid (unknown or revoked).",
            headers=REFUSED,
        )
    return holder


@dataclass
class _Bucket:
    tokens: float
    at: datetime


class RateLimiter:
    """A token bucket per key: `burst` calls at once, refilled at `per_minute`."""

    def __init__(self, *, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def wait_for(self, key_id: int, now: datetime) -> int:
        """Take one call for a key; return 0, or the seconds to wait before it may call again."""
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(self.burst, now)
            elapsed = max(0.0, (now - bucket.at).total_seconds())
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def check(self, key_id: int, now: datetime) -> None:
        """Take one call for a key.

        :raise ApiProblem: 429 with `Retry-After`, the key is over its rate.
        """
        wait = self.wait_for(key_id, now)
        if wait:
            raise ApiProblem(
                429,
                "Too Many Requests",
                f"This API key is over its rate: try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
