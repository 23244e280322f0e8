"""SMTP_URL read into its parts (no smtplib here: `bot/settings.py` reads it at start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None = field(repr=False)


def smtp_endpoint(url: str) -> SmtpEndpoint:
    """Read SMTP_URL (`smtp://user:pass@host:port`, `smtps://...`); read at start-up too, so a
    wrong one stops the process with its reason instead of failing the first email.

    :raise ValueError: not an smtp(s) URL with a host, or a port that is not a number.
    """
    shape = "SMTP_URL must look like smtp://user:pass@host:port or smtps://..."
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(shape)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{shape} (the port is not a number from 1 to 65535)") from None
    implicit_tls = parts.scheme == "smtps"
    return SmtpEndpoint(
        host=parts.hostname,
        port=port or (465 if implicit_tls else 25),
        implicit_tls=implicit_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
