"""API keys: created, listed and revoked by admins; a presented secret found and attributed.

A secret is `rvo_` and 43 random URL-safe characters (256 bits): shown once, stored only as its
SHA-256 (a secret this long needs no slow hash), compared in constant time. Whatever a key does
is done by the actor `api:<id>` named `API key "<name>"`, so the history and the audit say which
key did it. A key's last use is written at most once a minute, not on every call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.domain.typed_text import control_character_reason, too_long_reason
from bot.usecases.actors import Actor
from bot.usecases.audit import record_audit
from bot.usecases.services import UseCase
from store import api_keys as key_store
from store.integration_models import API_KEY_NAME_MAX, ApiKey

PREFIX = "rvo_"
SHOWN_PREFIX = len(PREFIX) + 6  # "rvo_AbCdEf": enough to tell keys apart, useless to guess
SECRET_MAX = 200  # a header longer than any key we make is refused before it is hashed
TOUCH_EVERY = timedelta(minutes=1)

__all__ = ["ApiKey", "ApiKeys", "KeyHolder", "NewKey", "hash_secret", "key_actor"]


@dataclass(frozen=True)
class NewKey:
    """A key just made, with its secret: the only time the secret is known."""

    key: ApiKey
    secret: str


@dataclass(frozen=True)
class KeyHolder:
    """Who presented a valid secret: a key of a workspace."""

    key_id: int
    workspace_id: int
    name: str

    @property
    def actor(self) -> Actor:
        return key_actor(self.key_id, self.name)


def key_actor(key_id: int, name: str) -> Actor:
    """Name the actor of an API key, as events and the audit record it."""
    return Actor(f"api:{key_id}", f'API key "{name}"')


def hash_secret(secret: str) -> str:
    """Return the hex SHA-256 a secret is stored as."""
    return hashlib.sha256(secret.encode()).hexdigest()


def key_name(value: str) -> str:
    """Check a key's name: one line, 1 to 60 characters.

    :raise InvalidInput: empty, too long or with a control character (field `name`).
    """
    name = " ".join(value.split()) if control_character_reason(value) is None else value
    if not name:
        raise InvalidInput("name: give the key a name, like `zapier`.", field="name")
    problem = control_character_reason(name)
    if problem is None and len(name) > API_KEY_NAME_MAX:
        problem = too_long_reason(API_KEY_NAME_MAX, len(name))
    if problem:
        raise InvalidInput(f"name: {problem}", field="name")
    return name


class ApiKeys(UseCase):
    """A workspace's API keys."""

    def create(self, workspace_id: int, name: str, actor: Actor) -> NewKey:
        """Make a key and return it with its secret (audited as `apikey_create`).

        :raise InvalidInput: the name is wrong; nothing is stored.
        """
        name = key_name(name)
        secret = PREFIX + secrets.token_urlsafe(32)
        now = self.clock.now()
        with self.db.write() as session:
            key = key_store.add(
                session,
                ApiKey(
                    workspace_id=workspace_id,
                    name=name,
                    prefix=secret[:SHOWN_PREFIX],
                    secret_hash=hash_secret(secret),
                    created_by=actor.id[:64],
                    created_by_name=actor.name[:100],
                    created_at=now,
                ),
            )
            record_audit(
                session,
                workspace_id,
                actor,
                "apikey_create",
                now,
                target=f"API key {key.id} ({name})",
                detail={"name": name, "prefix": key.prefix},
            )
        return NewKey(key, secret)

    def list(self, workspace_id: int) -> list[ApiKey]:
        """Return a workspace's keys, oldest first, revoked ones included."""
        with self.db.read() as session:
            return key_store.of_workspace(session, workspace_id)

    def revoke(self, workspace_id: int, key_id: int, actor: Actor) -> ApiKey:
        """Revoke a key for good (audited as `apikey_revoke`): its next call gets a 401.

        :raise NotFound: no such key in this workspace.
        :raise NotAllowed: it was already revoked.
        """
        now = self.clock.now()
        with self.db.write() as session:
            key = key_store.one(session, workspace_id, key_id)
            if key is None:
                raise NotFound(f"There is no API key {key_id} here.", field="id")
            if key.revoked_at is not None:
                raise NotAllowed(f'API key {key_id} ("{key.name}") is already revoked.')
            key.revoked_at = now
            key.revoked_by = actor.id[:64]
            session.add(key)
            record_audit(
                session,
                workspace_id,
                actor,
                "apikey_revoke",
                now,
                target=f"API key {key.id} ({key.name})",
                detail={"name": key.name, "prefix": key.prefix},
            )
        return key

    def holder(self, secret: str) -> KeyHolder | None:
        """Return the key a presented secret belongs to; None if unknown or revoked."""
        if not secret.startswith(PREFIX) or len(secret) > SECRET_MAX:
            return None
        presented = hash_secret(secret)
        with self.db.read() as session:
            key = key_store.by_hash(session, presented)
        # The index found it by hash; compare again in constant time all the same.
        if key is None or not hmac.compare_digest(key.secret_hash, presented):
            return None
        if key.revoked_at is not None:
            return None
        assert key.id is not None
        now = self.clock.now()
        if key.last_used_at is None or key.last_used_at < now - TOUCH_EVERY:
            with self.db.write() as session:
                key_store.touch(session, key.id, now, now - TOUCH_EVERY)
        return KeyHolder(key.id, key.workspace_id, key.name)
