"""The audit trail: who did which admin action or decision, when, and from where.

`record_audit` is the one writer. Each action calls it in its own transaction, so an action
that is rolled back leaves no entry and an entry never outlives its action. A value of a
secret setting (a key naming a secret, token or key: the one rule of bot/domain/policy_edit.py) is masked
here, before it is stored: the trail says a secret changed, never what it is; an address that
may carry a token (`events_url`) is kept by its host.

`AuditTrail` reads the trail back for `/reviews audit` and `reviewops audit`, and writes the
entries of actions that change nothing in the database (exports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlmodel import Session

from bot.domain.errors import InvalidInput
from bot.domain.policy import SLACK_USER_ID
from bot.domain.policy_edit import TOKEN_URL_SETTINGS, is_secret_setting, shown_url
from bot.usecases.actors import Actor
from bot.usecases.history import end_of_day, start_of_day
from bot.usecases.services import UseCase
from store import audit as audit_store
from store.audit import AuditFilter, AuditPage
from store.queries import Cursor

Origin = Literal["slack", "cli", "api", "system"]
# What an entry says was done; `action:` and `--action` take these words.
ACTIONS = (
    "settings",  # a workspace setting changed: field, old, new
    "cancel_all",
    "import",  # a CSV import confirmed: file, rows, to send, skipped by kind
    "cancel_import",  # what an import still had to send, canceled
    "delete",  # one request erased
    "erase",  # every request and the contact of a customer erased
    "export",  # the history as CSV
    "customer_export",  # one customer's data as JSON
    "mark_sent",  # a message in doubt decided: it went out
    "send_again",  # a message in doubt decided: send it again
    "install",
    "uninstall",
    "apikey_create",  # an API key made: its name and the first characters of its secret
    "apikey_revoke",
)
MASK = "••••••"


def origin_of(actor: Actor) -> Origin:
    """Say where an actor acts from: a Slack user, the CLI, an API key, or reviewops itself."""
    if SLACK_USER_ID.match(actor.id):
        return "slack"
    if actor.id.startswith("cli:"):
        return "cli"
    if actor.id.startswith("api:"):
        return "api"
    return "system"


def masked(key: str, value: Any) -> Any:
    """Return a setting's value as the trail may keep it: a secret's only as set or not, an
    address that may carry a token by its host (the rule of bot/domain/policy_edit.py)."""
    if key in TOKEN_URL_SETTINGS and isinstance(value, str):
        return shown_url(value)
    if not is_secret_setting(key):
        return value
    return MASK if value not in (None, "", [], {}) else ""


def setting_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return each changed setting with its old and new value, secrets masked."""
    return {
        key: {"old": masked(key, before.get(key)), "new": masked(key, after[key])}
        for key in after
        if before.get(key) != after[key]
    }


def record_audit(
    session: Session,
    workspace_id: int,
    actor: Actor,
    action: str,
    at: datetime,
    *,
    target: str = "",
    detail: dict[str, Any] | None = None,
    origin: Origin | None = None,
) -> None:
    """Record one admin action or decision in the caller's transaction.

    :raise ValueError: an action this module does not know (a programming error).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    safe = {key: masked(key, value) for key, value in (detail or {}).items()}
    audit_store.add(
        session,
        workspace_id=workspace_id,
        at=at,
        actor_id=actor.id,
        actor_name=actor.name,
        origin=origin or origin_of(actor),
        action=action,
        target=target,
        detail=safe,
    )


@dataclass(frozen=True)
class AuditQuery:
    """What a person asked to see of the trail, as given (days in the workspace's zone)."""

    actor: str | None = None
    action: str | None = None
    day_from: date | None = None
    day_to: date | None = None  # included


def audit_filter(query: AuditQuery, *, timezone: str) -> AuditFilter:
    """Check a person's audit query and turn it into the store's filter.

    :raise InvalidInput: an unknown action, or a range that ends before it starts.
    """
    action = (query.action or "").strip().lower() or None
    if action is not None and action not in ACTIONS:
        raise InvalidInput(
            f"'{query.action}' is not an audited action: use {', '.join(ACTIONS)}.",
            field="action",
        )
    if query.day_from and query.day_to and query.day_to < query.day_from:
        raise InvalidInput("from: must come before to:.", field="to")
    actor = (query.actor or "").strip().removeprefix("<@").removesuffix(">").split("|")[0]
    return AuditFilter(
        actor=actor or None,
        action=action,
        at_from=start_of_day(query.day_from, timezone) if query.day_from else None,
        at_to=end_of_day(query.day_to, timezone) if query.day_to else None,
    )


class AuditTrail(UseCase):
    """Read the audit trail; record the actions that write nothing else (exports)."""

    def note(
        self,
        workspace_id: int,
        actor: Actor,
        action: str,
        *,
        target: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record one action in a transaction of its own."""
        with self.db.write() as session:
            record_audit(
                session, workspace_id, actor, action, self.clock.now(), target=target, detail=detail
            )

    def page(
        self, workspace_id: int, f: AuditFilter, *, after: Cursor | None = None, limit: int = 20
    ) -> AuditPage:
        """Return up to `limit` entries, newest first, older than `after` when given."""
        with self.db.read() as session:
            return audit_store.page(session, workspace_id, f, after=after, limit=limit)
