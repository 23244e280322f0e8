"""A secret setting as stored sealed: opaque text that is never typed, validated or shown.

With TOKEN_ENCRYPTION_KEYS set, a secret setting (shopify_secret, stripe_secret,
events_secret) is stored as `sealed:` and a Fernet token (bot/usecases/setting_secrets.py
seals and opens it). The policy's validation passes such a value through untouched: the
plain value was validated when it was typed, and a typed value of this shape is refused
(bot/domain/policy_edit.py::typed_secret_errors).
"""

from __future__ import annotations

import re

SEALED_PREFIX = "sealed:"
# A Fernet token: version byte 0x80 and a timestamp, in url-safe base64.
_SEALED = re.compile(r"^sealed:gAAAAA[A-Za-z0-9_-]+=*$")


def is_sealed(value: object) -> bool:
    """Say whether a stored setting's value is a sealed secret (not its clear value)."""
    return isinstance(value, str) and bool(_SEALED.match(value))
