"""The request facade: one object with every request use-case, for Slack, the CLI and the web.

Each job has its own module (workspaces, creating, lifecycle, corrections, lookups); this only
binds them to one database, clock and journal and routes to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from bot import tracing
from bot.clock import Clock
from bot.domain.policy import WorkspacePolicy
from bot.usecases.actors import Actor
from bot.usecases.api_keys import ApiKeys
from bot.usecases.audit import AuditTrail
from bot.usecases.corrections import Corrections
from bot.usecases.creating import Creating
from bot.usecases.digests import Digests
from bot.usecases.erasure import Erasure
from bot.usecases.idempotency import Idempotency, Keep
from bot.usecases.importing import Importing
from bot.usecases.inputs import (
    BulkResult,
    CustomerLookup,
    RequestCreate,
    RequestDetail,
    RequestEdit,
)
from bot.usecases.journal import Journal
from bot.usecases.lifecycle import Lifecycle
from bot.usecases.lookups import Lookups
from bot.usecases.notifier import Notifier, NullNotifier
from bot.usecases.orders import OrderTriggers
from bot.usecases.services import Services
from bot.usecases.setting_secrets import SettingSecrets
from bot.usecases.workspaces import Workspaces
from store import queries
from store.db import Database
from store.models import ReviewRequest, Workspace
from store.suppressions import SuppressionKey


class ReviewOps:
    """The review-request use-cases, bound to a database, a clock and a notifier."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        notifier: Notifier | None = None,
        default_region: str = "US",
        wake: Callable[[], None] | None = None,
        suppression_key: str | None = None,
        token_keys: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.notifier: Notifier = notifier or NullNotifier()
        self.default_region = default_region
        self.journal = Journal(self.notifier, SuppressionKey(suppression_key or ""))
        self._wake = wake
        services = Services(db, clock, self.journal, default_region, self.wake)
        # Secret settings sealed with the bot tokens' keys (TOKEN_ENCRYPTION_KEYS).
        self.secrets = SettingSecrets.with_keys(token_keys)
        self.workspaces = Workspaces(services, self.secrets)
        self.creating = Creating(services)
        self.lifecycle = Lifecycle(services)
        self.corrections = Corrections(services)
        self.lookups = Lookups(services)
        self.audit = AuditTrail(services)
        self.erasure = Erasure(services)
        self.api_keys = ApiKeys(services)
        self.idempotency = Idempotency(services)
        self.orders = OrderTriggers(services, self.creating, self.lifecycle)
        self.digests = Digests(services)
        self.imports = Importing(services)

    def set_wake(self, wake: Callable[[], None] | None) -> None:
        """Say whom to wake when a message becomes due now (the dispatcher)."""
        self._wake = wake

    def wake(self) -> None:
        """Wake the dispatcher, if one listens."""
        if self._wake is not None:
            self._wake()

    # --- workspaces -------------------------------------------------------------------------

    def ensure_workspace(self, team_id: str, name: str = "") -> Workspace:
        """Return the workspace for a Slack team id, creating it with default settings."""
        return self.workspaces.ensure_workspace(team_id, name)

    def only_workspace(self, team_id: str | None = None) -> Workspace:
        """Return the workspace the CLI acts on: the one named, or the only one there is.

        :raise InvalidInput: when several exist and none is named, or the named one is unknown.
        """
        return self.workspaces.only_workspace(team_id)

    def policy(self, workspace_id: int) -> WorkspacePolicy:
        """Return a workspace's settings.

        :raise NotFound: no such workspace.
        """
        return self.workspaces.policy(workspace_id)

    def update_policy(self, workspace_id: int, policy: WorkspacePolicy, actor: Actor) -> None:
        """Store a workspace's validated settings, whole."""
        self.workspaces.update_policy(workspace_id, policy, actor)

    # --- creating ---------------------------------------------------------------------------

    def create(
        self,
        workspace_id: int,
        data: RequestCreate,
        actor: Actor,
        *,
        key: str | None = None,
        keep: Keep | None = None,
    ) -> ReviewRequest:
        """Validate and store a new request with its first message(s), once per `key`.

        `keep`: the API's answer to an Idempotency-Key, kept in the creating transaction.

        :raise InvalidInput: a field is wrong (``.field`` names it); nothing is stored.
        :raise Conflict: the contact was invited within the cooldown and no override was given.
        :raise AlreadyCreated: `key`'s delivery already created a request; nothing is stored.
        :raise Replayed: `keep`'s key was answered before; nothing is stored.
        """
        with tracing.span("reviewops.create", workspace_id=workspace_id, actor=actor.id):
            request = self.creating.create(workspace_id, data, actor, key=key, keep=keep)
            tracing.tag(request=request.number)
        return request

    # --- lifecycle --------------------------------------------------------------------------

    def pause(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Hold the queued messages of these requests until resumed."""
        return self.lifecycle.pause(workspace_id, numbers, actor)

    def resume(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Put paused messages back in the queue; overdue ones go out at once."""
        return self.lifecycle.resume(workspace_id, numbers, actor)

    def cancel(self, workspace_id: int, numbers: Iterable[int], actor: Actor) -> BulkResult:
        """Cancel for good whatever these requests still had to send."""
        return self.lifecycle.cancel(workspace_id, numbers, actor)

    def cancel_import(self, workspace_id: int, import_id: int, actor: Actor) -> BulkResult:
        """Cancel whatever a CSV import's requests still had to send."""
        return self.lifecycle.cancel_import(workspace_id, import_id, actor)

    def count_queued(self, workspace_id: int) -> int:
        """Count the requests that still have a message waiting (queued or paused)."""
        return self.lifecycle.count_queued(workspace_id)

    def cancel_all_queued(self, workspace_id: int, actor: Actor) -> BulkResult:
        """Cancel every request in the workspace that still has a message waiting."""
        return self.lifecycle.cancel_all_queued(workspace_id, actor)

    def reschedule(
        self, workspace_id: int, number: int, when: datetime, actor: Actor
    ) -> ReviewRequest:
        """Move the waiting messages of a request to a new time (inside the send window).

        :raise NotAllowed: nothing is waiting to be sent.
        """
        return self.lifecycle.reschedule(workspace_id, number, when, actor)

    def send_now(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send the waiting messages of a request now (still inside the send window)."""
        return self.lifecycle.send_now(workspace_id, number, actor)

    def resend(self, workspace_id: int, number: int, actor: Actor) -> ReviewRequest:
        """Send a failed, undelivered or unknown request again, as a new message.

        :raise NotAllowed: the last message did not fail, or the customer opted out.
        """
        return self.lifecycle.resend(workspace_id, number, actor)

    # --- corrections ------------------------------------------------------------------------

    def edit(
        self, workspace_id: int, number: int, data: RequestEdit, actor: Actor
    ) -> ReviewRequest:
        """Correct a request's name, contact or reference while nothing of it has gone out.

        :raise NotAllowed: a message of it went out or is going out, or nothing is waiting.
        :raise InvalidInput: a field is wrong (``.errors`` names each); nothing changes.
        :raise Conflict: the new contact was invited within the cooldown, without override.
        """
        return self.corrections.edit(workspace_id, number, data, actor)

    def editable(self, workspace_id: int, number: int) -> ReviewRequest:
        """Return a request that may still be edited.

        :raise NotAllowed: a message of it went out or is going out, or nothing is waiting.
        """
        return self.corrections.editable(workspace_id, number)

    def delete(self, workspace_id: int, number: int, actor: Actor) -> None:
        """Erase a request's content for good, keeping an audit event of who deleted it.

        :raise NotFound: no such request (or it was already deleted).
        :raise NotAllowed: a message is being handed to a provider right now.
        """
        self.corrections.delete(workspace_id, number, actor)

    # --- lookups ----------------------------------------------------------------------------

    def show(self, workspace_id: int, number: int) -> RequestDetail:
        """Return a request with its messages and its event log."""
        return self.lookups.show(workspace_id, number)

    def find_customer(self, workspace_id: int, value: str) -> CustomerLookup:
        """Find a customer by email, phone (any usual form) or name.

        :raise InvalidInput: nothing was typed, or an email or phone number that can't be read.
        :raise NotFound: no customer matches.
        """
        return self.lookups.find_customer(workspace_id, value)

    def customer(self, workspace_id: int, contact_id: int) -> queries.ContactHistory:
        """Return one customer of this workspace with their requests, messages and replies.

        :raise NotFound: no such customer here.
        """
        return self.lookups.customer(workspace_id, contact_id)
