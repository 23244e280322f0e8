"""Installed workspaces' bot tokens, sealed at rest with Fernet keys from the environment.

`TOKEN_ENCRYPTION_KEYS` holds one or more Fernet keys, comma separated: the first seals every
token written, any of them opens one read (cryptography's MultiFernet). Rotation: put a new
key first and restart, run `reviewops tokens rotate` (every token sealed again with it), then
drop the old key. A token stored in clear before keys were set (it starts with `xox`) is
still read, and sealed by the next rotation. Secret settings are sealed with the same keys
(`seal_text`, `open_text`, `rotate_text`; their owner is bot/usecases/setting_secrets.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlmodel import Session, col, select

from store.models import Workspace

BOT_TOKEN_COLUMN = 255  # workspace.bot_token's length: a sealed classic xoxb token fits
_CLEAR_PREFIX = "xox"  # Slack tokens; a Fernet token starts with "gAAAAA"
TOKEN = "a stored bot token"  # noqa: S105  (how errors name it)


class TokenKeyError(ValueError):
    """A stored token no configured key opens, or no key to seal one with."""


class TokenCipher:
    """Seal and open bot tokens with the configured keys (none: tokens are kept in clear)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None

    @property
    def sealing(self) -> bool:
        return self._fernet is not None

    def seal(self, token: str) -> str:
        """Return the token as stored: sealed with the first key (in clear without keys)."""
        if self._fernet is None:
            return token
        sealed = self.seal_text(token)
        if len(sealed) > BOT_TOKEN_COLUMN:
            raise TokenKeyError("This bot token is too long to store sealed.")
        return sealed

    def open(self, stored: str) -> str:
        """Return a stored token in clear.

        :raise TokenKeyError: it is sealed and no configured key opens it.
        """
        if stored.startswith(_CLEAR_PREFIX):
            return stored  # stored before keys were set: `reviewops tokens rotate` seals it
        return self.open_text(stored, TOKEN)

    def reseal(self, stored: str) -> str:
        """Return a stored token sealed with the first key (rotation)."""
        if self._fernet is None:
            raise TokenKeyError("Set TOKEN_ENCRYPTION_KEYS to seal tokens.")
        if stored.startswith(_CLEAR_PREFIX):
            return self.seal(stored)
        return self.rotate_text(stored, TOKEN)

    def seal_text(self, text: str) -> str:
        """Return a text sealed with the first key (a Fernet token).

        :raise TokenKeyError: no key is configured.
        """
        if self._fernet is None:
            raise TokenKeyError("Set TOKEN_ENCRYPTION_KEYS to seal secrets.")
        return self._fernet.encrypt(text.encode()).decode()

    def open_text(self, sealed: str, what: str) -> str:
        """Return a sealed text in clear; `what` names it in the error (never its value).

        :raise TokenKeyError: no configured key opens it.
        """
        if self._fernet is None:
            raise TokenKeyError(
                f"{what[:1].upper()}{what[1:]} is sealed: set TOKEN_ENCRYPTION_KEYS."
            )
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise TokenKeyError(f"No key of TOKEN_ENCRYPTION_KEYS opens {what}.") from None

    def rotate_text(self, sealed: str, what: str) -> str:
        """Return a sealed text sealed again with the first key.

        :raise TokenKeyError: no configured key opens it.
        """
        if self._fernet is None:
            raise TokenKeyError("Set TOKEN_ENCRYPTION_KEYS to seal secrets.")
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise TokenKeyError(f"No key of TOKEN_ENCRYPTION_KEYS opens {what}.") from None


def bot_token(session: Session, workspace_id: int, cipher: TokenCipher) -> str | None:
    """Return a workspace's bot token in clear, or None when it has none (not installed)."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is None or not workspace.bot_token:
        return None
    return cipher.open(workspace.bot_token)


def reseal_all(session: Session, cipher: TokenCipher) -> int:
    """Seal every stored bot token again with the first key; return how many were."""
    rows = session.exec(
        select(Workspace).where(col(Workspace.bot_token).is_not(None)).with_for_update()
    ).all()
    for row in rows:
        assert row.bot_token is not None
        row.bot_token = cipher.reseal(row.bot_token)
        session.add(row)
    return len(rows)
