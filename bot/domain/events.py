"""Outbound events: which changes become events, the URL and secret they need, how they are
signed (Standard Webhooks) and when a failed delivery is tried again. Pure rules, no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
from datetime import timedelta
from urllib.parse import urlsplit

from bot.domain.errors import InvalidInput

# A change's kind (bot.usecases.notifier.Change.kind) -> the event a workspace receives.
# Changes left out say nothing a CRM follows: an edit before anything went out, a reminder
# falling back to email (its send is an event), a message's doubt before the team decides.
EVENT_TYPES: dict[str, str] = {
    "created": "request.created",
    "rescheduled": "request.rescheduled",
    "paused": "request.paused",
    "resumed": "request.resumed",
    "sent": "request.sent",
    "resent": "request.resent",
    "delivered": "request.delivered",
    "read": "request.read",
    "opened": "request.opened",
    "clicked": "request.clicked",
    "reply": "request.replied",
    "failed": "request.failed",
    "undelivered": "request.undelivered",
    "unknown": "request.unknown",
    "marked_sent": "request.marked_sent",
    "complained": "request.complained",
    "unsubscribed": "request.unsubscribed",
    "opted_out": "request.opted_out",
    "opted_in": "request.opted_in",
    "canceled": "request.canceled",
    "deleted": "request.deleted",
}

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES_MIN, SECRET_BYTES_MAX = 24, 64  # Standard Webhooks' bounds for a key
URL_MAX = 2000
# Names that only ever reach a private network (RFC 6761, 6762, 8375 and ICANN's .internal),
# among them cloud metadata services (metadata.google.internal).
PRIVATE_SUFFIXES = ("localhost", "local", "internal", "home.arpa", "lan", "intranet")
# A host whose last label is a number is an address written another way (127.1, 2130706433,
# 0x7f000001, 0177.0.0.1): no top-level domain is numeric.
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Retries: 30 s, 1 min, 2 min ... doubling up to 6 h, each moved by up to a fifth either way
# (jitter, so a receiver back from an outage is not hit by every workspace at once); dropped
# after MAX_ATTEMPTS tries or once MAX_AGE old, whichever comes first.
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
JITTER = 0.2
MAX_ATTEMPTS = 16
MAX_AGE = timedelta(days=3)


def event_type(kind: str) -> str | None:
    """Return the event a change's kind is sent as, or None for a change that sends none."""
    return EVENT_TYPES.get(kind)


class _PrivateTargets:
    """The operator's EVENTS_ALLOW_PRIVATE (bot/settings.py), set once per process at start-up
    (bot/app.py create_app): off, events only reach public addresses."""

    allowed = False


def allow_private_targets(allowed: bool) -> None:
    """Let events reach this machine and private networks (development, tests) or not."""
    _PrivateTargets.allowed = allowed


def private_targets_allowed() -> bool:
    return _PrivateTargets.allowed


def refused_address(address: str) -> str | None:
    """Say why events may not be posted to an IP address, None when they may.

    Only global addresses are reachable (no loopback, private, link-local, shared, reserved),
    an IPv6 address carrying an IPv4 one (mapped, NAT64) judged by the IPv4 one, unless the
    operator allowed private targets.
    """
    if _PrivateTargets.allowed:
        return None
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_global:
        return None
    return f"{address} is a private or reserved address"


def validate_events_url(value: str) -> str:
    """Return the events URL as it is stored ("" turns events off).

    https to a public name or address. Private, link-local and reserved addresses, names of
    private networks (localhost, *.internal ...) and addresses written as numbers other than
    four decimal ones are refused: they reach our own network, not a customer's system. With
    EVENTS_ALLOW_PRIVATE (development) http and private targets are accepted. Where a name
    leads is checked again at each send (scheduler/events_http.py).

    :raise InvalidInput: anything else, with the reason.
    """
    value = value.strip()
    if not value:
        return ""
    if len(value) > URL_MAX:
        raise InvalidInput(f"The events URL is over {URL_MAX} characters.", field="events_url")
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
    except ValueError:  # an unclosed [IPv6
        parts, host = urlsplit(""), ""
    if parts.scheme not in ("https", "http") or not host or " " in value:
        raise InvalidInput(f"'{value}' is not a web address (https://...).", field="events_url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("Put no user or password in the events URL.", field="events_url")
    if parts.scheme == "http" and not _PrivateTargets.allowed:
        raise InvalidInput("The events URL must start with https://.", field="events_url")
    reason = _refused_host(host)
    if reason is not None:
        raise InvalidInput(reason, field="events_url")
    return value


def _refused_host(host: str) -> str | None:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:
        reason = refused_address(host)
        return f"{reason}: give your system's public address." if reason else None
    if NUMERIC_LABEL.match(host.rstrip(".").rsplit(".", 1)[-1]):
        return f"{host} is an address written another way: write it as four decimal numbers."
    if _PrivateTargets.allowed:
        return None
    name = host.rstrip(".")
    if "." not in name or any(
        name == suffix or name.endswith("." + suffix) for suffix in PRIVATE_SUFFIXES
    ):
        return f"{host} is a name of a private network: give your system's public address."
    return None


def validate_events_secret(value: str) -> str:
    """Return a signing secret as stored: "whsec_" and 24 to 64 random bytes in base64.

    :raise InvalidInput: any other value.
    """
    value = value.strip()
    if not value:
        return ""
    key = _key(value)
    if key is None or not SECRET_BYTES_MIN <= len(key) <= SECRET_BYTES_MAX:
        raise InvalidInput(
            f"events_secret is {SECRET_PREFIX} and {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX} "
            "random bytes in base64.",
            field="events_secret",
        )
    return value


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """Return the `webhook-signature` header of a body: v1 and its HMAC-SHA256, base64."""
    key = _key(secret)
    assert key is not None, "the secret was validated when it was set"
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def retry_delay(attempts: int, spread: float) -> timedelta:
    """Return how long to wait after `attempts` failed tries; `spread` in [0, 1) is the jitter."""
    base = min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), LONGEST_RETRY)
    return base * (1 - JITTER + 2 * JITTER * spread)


def given_up(attempts: int, age: timedelta) -> bool:
    """Say whether an event that failed `attempts` times and is `age` old is dropped."""
    return attempts >= MAX_ATTEMPTS or age >= MAX_AGE


def _key(secret: str) -> bytes | None:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
