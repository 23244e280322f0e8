"""Secret settings sealed at rest: the one place they are sealed, opened and sealed again.

With TOKEN_ENCRYPTION_KEYS set, every secret setting (the one rule of
bot/domain/policy_edit.py::is_secret_setting: shopify_secret, stripe_secret, events_secret) is
stored in the workspace's settings JSON sealed with the bot tokens' cipher
(store/installations.py::TokenCipher), as `sealed:` and a Fernet token (bot/domain/sealed.py).
A `WorkspacePolicy` carries it as opaque text; it is opened only where it is used: the Shopify
and Stripe signature checks (bot/order_webhooks.py) and the events signer (scheduler/events.py).

Without keys (one workspace, SLACK_BOT_TOKEN) secrets are stored as typed. A secret stored in
clear before keys were set is still used as it is, and sealed at the next save of the
settings or by `reviewops tokens rotate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from bot.domain.policy_edit import is_secret_setting
from bot.domain.sealed import SEALED_PREFIX, is_sealed
from store.installations import TokenCipher
from store.models import Workspace


class SettingSecrets:
    """Seal secret settings where they are stored and open one where it is used."""

    def __init__(self, cipher: TokenCipher) -> None:
        self.cipher = cipher

    @classmethod
    def with_keys(cls, keys: Sequence[str]) -> SettingSecrets:
        """Build them with the Fernet keys of TOKEN_ENCRYPTION_KEYS (none: kept as typed)."""
        return cls(TokenCipher(keys))

    def sealed(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Return settings as they are stored: every secret in clear sealed (without keys,
        unchanged); one already sealed is kept as it is."""
        if not self.cipher.sealing:
            return settings
        return {
            key: self._seal(value) if _in_clear(key, value) else value
            for key, value in settings.items()
        }

    def open(self, stored: str, name: str) -> str:
        """Return a secret setting in clear: a sealed one opened, one in clear as it is.

        :raise TokenKeyError: it is sealed and no configured key opens it (the error names the
            setting, never its value).
        """
        if not is_sealed(stored):
            return stored
        return self.cipher.open_text(stored.removeprefix(SEALED_PREFIX), f"the stored {name}")

    def reseal_all(self, session: Session) -> int:
        """Seal every workspace's secret settings again with the first key, those in clear
        too, in the caller's transaction; return how many were.

        :raise TokenKeyError: a secret no configured key opens (the caller changes nothing).
        """
        count = 0
        for row in session.exec(select(Workspace).order_by(col(Workspace.id)).with_for_update()):
            settings = dict(row.policy)
            secrets = [k for k, v in settings.items() if _secret(k, v)]
            for key in secrets:
                settings[key] = self._reseal(settings[key], f"the {key} of workspace {row.team_id}")
            if secrets:
                row.policy = settings
                session.add(row)
                count += len(secrets)
        return count

    def _seal(self, value: str) -> str:
        return SEALED_PREFIX + self.cipher.seal_text(value)

    def _reseal(self, value: str, what: str) -> str:
        if not is_sealed(value):
            return self._seal(value)
        return SEALED_PREFIX + self.cipher.rotate_text(value.removeprefix(SEALED_PREFIX), what)


def _secret(key: str, value: Any) -> bool:
    return is_secret_setting(key) and isinstance(value, str) and bool(value)


def _in_clear(key: str, value: Any) -> bool:
    return _secret(key, value) and not is_sealed(value)
