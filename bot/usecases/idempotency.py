"""Idempotent POSTs: the same Idempotency-Key and body get the first answer again, for a day.

The answer is kept per API key with the SHA-256 of the body (canonical JSON, so the order of
its fields does not matter), in the creating transaction itself (`Keep`, run last by
`Creating.create`): a request and its kept answer are committed together or not at all, so a
call that created nothing (a refused field, a cooldown, an error) leaves the key free.
Creating under a key also takes the key in `bot.usecases.once` first thing in that
transaction, so two calls with one key take turns: the second finds the request the first
made and answers with its kept answer (`kept`), or a `Conflict` for another body.
A row still "in progress" was left by a call of an older version that took the key before
creating: the same body creates (or finds its request) and keeps its answer there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.domain.errors import Conflict
from bot.usecases.services import Services, UseCase
from store import api_keys as key_store
from store.models import ReviewRequest

# At least 24 hours, as promised; one more so a retry at 23:59 still finds it.
KEEP_ANSWERS = timedelta(hours=25)
# Answers older than that are deleted at most this often by a process (a key's own forgotten
# answer is replaced when it is used again).
PURGE_EVERY = timedelta(minutes=1)


class InProgress(Conflict):
    """The first request with this Idempotency-Key has not answered yet."""


@dataclass(frozen=True)
class KeptAnswer:
    status_code: int
    body: dict[str, Any]


def body_hash(body: Any) -> str:
    """Return the SHA-256 of a JSON body written canonically (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def creation_key(api_key_id: int, key: str) -> str:
    """Name a POST's delivery for `bot.usecases.once` (one request per key and API key)."""
    return f"api:{api_key_id}:{key}"


class Replayed(Exception):  # noqa: N818  (a fact: this key was answered)
    """The key's first answer, found by the creating transaction: nothing was created."""

    def __init__(self, kept: KeptAnswer) -> None:
        super().__init__("answered before")
        self.kept = kept


class Idempotency(UseCase):
    """Keep the first answers to POSTs with an Idempotency-Key, and find them again."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._purged_at: datetime | None = None

    def purge_due(self, now: datetime) -> bool:
        """Say whether answers past their day are to be deleted now: once a minute a process."""
        if self._purged_at is not None and self._purged_at <= now < self._purged_at + PURGE_EVERY:
            return False
        self._purged_at = now
        return True

    def keeper(
        self,
        api_key_id: int,
        key: str,
        digest: str,
        answer: Callable[[ReviewRequest], dict[str, Any]],
    ) -> Keep:
        """Return the creating transaction's last step under a key (`Creating.create(keep=)`)."""
        return Keep(self, api_key_id, key, digest, answer)

    def kept(self, api_key_id: int, key: str, digest: str) -> KeptAnswer | None:
        """Return the first answer to this key, if kept and not too old.

        :raise Conflict: the key was first used with another body.
        """
        with self.db.read() as session:
            row = key_store.answer(session, api_key_id, key)
        if row is None or row.created_at < self.clock.now() - KEEP_ANSWERS:
            return None
        if row.body_hash != digest:
            raise _other_body()
        if row.status_code == key_store.IN_PROGRESS:
            return None
        return KeptAnswer(row.status_code, row.response)


@dataclass
class Keep:
    """Keep the answer to a request created under a key, in its creating transaction.

    `answer` words the request as the POST answers it; `body` is that answer once kept.
    """

    idempotency: Idempotency
    api_key_id: int
    key: str
    digest: str
    answer: Callable[[ReviewRequest], dict[str, Any]]
    body: dict[str, Any] | None = None

    def __call__(self, session: Session, request: ReviewRequest) -> None:
        """Keep the answer; refuse (rolling the request back) if the key has another.

        :raise Conflict: the key was first used with another body.
        :raise Replayed: the key was answered already (its creation key forgotten first).
        """
        now = self.idempotency.clock.now()
        if self.idempotency.purge_due(now):
            key_store.purge_answers(session, now - KEEP_ANSWERS)
        body = self.answer(request)
        key, digest = self.key, self.digest
        row: dict[str, Any] = {"api_key_id": self.api_key_id, "key": key, "body_hash": digest}
        if not key_store.keep_answer(session, **row, status_code=201, response=body, now=now):
            found = key_store.answer(session, self.api_key_id, key)
            assert found is not None  # the insert found it: nothing deletes it meanwhile
            if found.created_at < now - KEEP_ANSWERS:
                # Forgotten, not deleted yet (the purge runs once a minute): this answer is new.
                key_store.purge_answers(session, now - KEEP_ANSWERS)
                key_store.keep_answer(session, **row, status_code=201, response=body, now=now)
            elif found.body_hash != digest:
                raise _other_body()
            elif found.status_code != key_store.IN_PROGRESS:
                raise Replayed(KeptAnswer(found.status_code, found.response))
            else:
                key_store.finish(session, **row, status_code=201, response=body)
        self.body = body


def _other_body() -> Conflict:
    return Conflict(
        "This Idempotency-Key was already used with a different body: "
        "use a new key for a new request.",
        field="Idempotency-Key",
    )
