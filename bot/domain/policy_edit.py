"""Editing workspace settings as text: KEY=VALUE assignments (CLI, `/reviews settings set`) and
the rows `settings show` prints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.domain.errors import InvalidInput
from bot.domain.policy import SETTING_KEYS, WorkspacePolicy, policy_errors
from bot.domain.sealed import is_sealed

ON_OFF_SETTINGS = ("fallback_email", "require_consent", "shopify_orders", "stripe_orders")
SECRET_SHOWN = "set (hidden)"  # noqa: S105  (words shown in place of a secret)


# Settings whose value is an address that may carry a token in its path or query (a Zapier
# catch hook): shown and audited by scheme and host only.
TOKEN_URL_SETTINGS = frozenset({"events_url"})


# A setting named with one of these holds a secret (shopify_secret, a future api_token...).
SECRET_WORDS = ("secret", "token", "key")


def is_secret_setting(key: str) -> bool:
    """Say whether a setting is write-only: never shown back, only whether it is set.

    The one rule for `settings show` and the audit trail (the form's secret fields are always
    left empty: a secret is typed, never shown).
    """
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def typed_secret_errors(current: WorkspacePolicy, data: Mapping[str, Any]) -> dict[str, str]:
    """Refuse each secret typed in the shape of a sealed value: the policy would take it for
    one kept from before and never check it (bot/domain/sealed.py)."""
    kept = current.model_dump()
    return {
        key: "Paste the secret itself, as its service shows it."
        for key, value in data.items()
        if is_secret_setting(key)
        and isinstance(value, str)
        and value != kept.get(key)
        and is_sealed(value.strip())
    }


def shown_url(url: str) -> str:
    """An address as it may be shown or kept in the audit: `https://host/…` (no path, no query)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "…" if url else ""
    port = f":{parts.port}" if parts.port else ""
    more = "/…" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{parts.hostname}{port}{more}"


def _coerce(key: str, raw: str) -> Any:
    if key in ON_OFF_SETTINGS:
        lowered = raw.strip().lower()
        if lowered in ("on", "true", "yes", "1"):
            return True
        if lowered in ("off", "false", "no", "0"):
            return False
        raise InvalidInput(f"{key} is on or off.", field=key)
    if key == "holidays" and raw.strip().lower() in ("none", "off", ""):
        return None
    if key == "landing_urls":
        pairs = [p for p in raw.split(",") if p.strip()]
        result: dict[str, str] = {}
        for pair in pairs:
            name, sep, url = pair.partition("=")
            if not sep:
                raise InvalidInput(
                    "landing_urls is service.fr=https://...,product.sv=https://...", field=key
                )
            result[name.strip()] = url.strip()
        return result
    return raw


def parse_setting_assignments(current: WorkspacePolicy, pairs: list[str]) -> WorkspacePolicy:
    """Apply KEY=VALUE edits all at once; any invalid one refuses them all.

    :raise InvalidInput: unknown key, missing "=", or an invalid value (named).
    """
    data = current.model_dump()
    if not pairs:
        raise InvalidInput("Give at least one KEY=VALUE.", field="settings")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            raise InvalidInput(f"'{pair}' is not KEY=VALUE.", field="settings")
        if key not in SETTING_KEYS:
            raise InvalidInput(
                f"Unknown setting '{key}'. Settings: {', '.join(SETTING_KEYS)}.", field=key
            )
        data[key] = _coerce(key, value)
    errors = policy_errors(data) | typed_secret_errors(current, data)
    if errors:
        raise InvalidInput.many({k: f"{k}: {v}" for k, v in errors.items()})
    return WorkspacePolicy.model_validate(data)


def as_display_rows(policy: WorkspacePolicy) -> list[tuple[str, str]]:
    """Return (key, value) rows for `settings show`, in the documented order, secrets masked."""
    rows: list[tuple[str, str]] = []
    for key, value in policy.model_dump(mode="json").items():
        if is_secret_setting(key):
            shown = SECRET_SHOWN if value else "-"
        elif key in TOKEN_URL_SETTINGS and value:
            shown = shown_url(str(value))
        elif isinstance(value, list):
            shown = ",".join(value) or "-"
        elif isinstance(value, dict):
            shown = ",".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, bool):
            shown = "on" if value else "off"
        elif value is None or value == "":
            shown = "-"
        else:
            shown = str(value)
        rows.append((key, shown))
    return rows
