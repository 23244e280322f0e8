"""One batch of a CSV import, written in one transaction, checked again as it is written.

The dry run (bot/usecases/importing.py `check`) may be minutes old when a batch is written: a
customer may have been asked through the send form meanwhile, opted out, or been created by
another import. So each batch, in its own write transaction:

1. locks its `import_batch` row and stops if the import is no longer `importing` (an admin
   canceled it: bot/usecases/lifecycle.py `cancel_import` sets the state first, under the same
   lock, so no batch starts after a cancel);
2. locks the workspace row, as `Creating.create` does when it takes its number, so nobody
   else creates a contact or a request of this workspace until the batch commits;
3. reads its rows' contacts, opt-outs and recent requests again and skips the rows now
   opted out, erased, within the cooldown, or the same contact as an earlier row of the
   batch (the send form's rules, bot/usecases/planning.py);
4. creates the rest: numbers, contacts (a concurrent insert is read back, never an error),
   requests, first messages, `created` events, and tells the notifier `created` for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.domain.channels import METHOD_LABELS, PHONE_CHANNELS
from bot.domain.errors import NotFound
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_read import stored_policy
from bot.usecases.actors import Actor
from bot.usecases.creating import allocate_numbers, consent_record, contact_values, merge_contact
from bot.usecases.import_plan import OVERRIDE_HINT, Known, ReadyRow, SkipKind, Skipped
from bot.usecases.journal import Journal
from bot.usecases.notifier import Change
from bot.usecases.planning import (
    Plan,
    cooldown_conflict,
    email_free,
    opt_outs,
    opted_out_reason,
)
from store import imports as import_store
from store.models import Contact, ReviewRequest, Workspace
from store.suppressions import SuppressionKey

IMPORTING = "importing"  # the state of an import whose batches may still be written


@dataclass
class Batch:
    """What one batch did: the numbers it created, the rows it skipped, whether it stopped."""

    numbers: list[int] = field(default_factory=list)
    skipped: list[tuple[SkipKind, Skipped]] = field(default_factory=list)
    stopped: bool = False  # the import was canceled: nothing was written


def write_batch(
    journal: Journal,
    session: Session,
    workspace_id: int,
    import_id: int,
    rows: Sequence[ReadyRow],
    actor: Actor,
    now: datetime,
) -> Batch:
    """Create one batch of an import's requests in the caller's transaction (see the module)."""
    batch = import_store.lock_import(session, workspace_id, import_id)
    if batch is None or batch.state != IMPORTING:
        return Batch(stopped=True)
    workspace = session.exec(
        select(Workspace).where(col(Workspace.id) == workspace_id).with_for_update()
    ).one()
    policy = stored_policy(workspace.policy)
    kept, skipped = recheck(session, workspace_id, rows, policy, journal.suppression_key, now)
    if not kept:
        return Batch(skipped=skipped)
    first = allocate_numbers(session, workspace_id, len(kept))
    contact_ids = _contacts(session, workspace_id, kept, now)
    requests, messages, events = [], [], []
    for offset, (row, contact_id) in enumerate(zip(kept, contact_ids, strict=True)):
        number = first + offset
        requests.append(request_row(workspace_id, import_id, number, contact_id, row, actor, now))
        messages.append(message_rows(workspace_id, row.plan, now))
        events.append(created_event(workspace_id, import_id, row.plan, actor, now))
    ids = journal.open_many(session, requests, messages, events)
    _tell_created(journal, session, ids, import_id, actor)
    import_store.count_created(session, import_id, len(kept))
    return Batch(numbers=[first + i for i in range(len(kept))], skipped=skipped)


def _tell_created(
    journal: Journal, session: Session, ids: Sequence[int], import_id: int, actor: Actor
) -> None:
    """Tell the notifier `created` for each new request, as a send form's request is told.

    Outbound events get `request.created`; the Slack notifier posts no card for an imported
    request until it needs the team (handlers/outbox_writer.py).
    """
    change = Change("created", f"Imported by {actor.label} (import {import_id})", actor_id=actor.id)
    found = session.exec(select(ReviewRequest).where(col(ReviewRequest.id).in_(ids)))
    by_id = {r.id: r for r in found}
    for request_id in ids:
        journal.notify(session, by_id[request_id], change)


def recheck(
    session: Session,
    workspace_id: int,
    rows: Sequence[ReadyRow],
    policy: WorkspacePolicy,
    key: SuppressionKey,
    now: datetime,
) -> tuple[list[ReadyRow], list[tuple[SkipKind, Skipped]]]:
    """Check a batch's rows again against what is stored now; return the kept and the skipped.

    A kept row carries its contact as found now (one created since the dry run included).
    """
    since = now - timedelta(days=policy.cooldown_days) if policy.cooldown_days > 0 else None
    known = Known(session, workspace_id, [(r.plan.phone, r.plan.email) for r in rows], key, since)
    kept: list[ReadyRow] = []
    skipped: list[tuple[SkipKind, Skipped]] = []
    seen: set[int] = set()
    for row in rows:
        contact = known.contact_of(row.plan)
        refusal = _refusal(known, row.plan, contact, policy, key, seen)
        if refusal is not None:
            kind, reason = refusal
            skipped.append((kind, Skipped(row.line, reason, row.plan.name)))
            continue
        contact_id = contact.id if contact is not None else None
        free = email_free(known, row.plan.email, contact)
        kept.append(replace(row, contact_id=contact_id, email_free=free))
    return kept, skipped


def _refusal(
    known: Known,
    plan: Plan,
    contact: Contact | None,
    policy: WorkspacePolicy,
    key: SuppressionKey,
    seen: set[int],
) -> tuple[SkipKind, str] | None:
    """Say why a planned row can't be sent any more (None when it still can)."""
    opted = opt_outs(known, plan.phone, plan.email, key)
    for channel in plan.channels:
        kind = "phone" if channel in PHONE_CHANNELS else "email"
        label = METHOD_LABELS[channel] if kind == "phone" else "by email"
        if reason := opted_out_reason(opted, kind, label):
            return ("erased" if kind in opted.erased else "opted_out"), reason
    if contact is None or contact.id is None:
        return None
    if contact.id in seen:
        return "duplicate", "Same customer as an earlier line of this file."
    seen.add(contact.id)
    if (conflict := cooldown_conflict(known.recent.get(contact.id), plan, policy)) is not None:
        return "cooldown", conflict.message.removesuffix(OVERRIDE_HINT)
    return None


def _contacts(
    session: Session, workspace_id: int, rows: Sequence[ReadyRow], now: datetime
) -> list[int]:
    """Each row's contact id: a known contact updated, or a new one (creating's rules)."""
    known_ids = [r.contact_id for r in rows if r.contact_id is not None]
    known: dict[int, Contact] = {}
    if known_ids:
        found = session.exec(select(Contact).where(col(Contact.id).in_(known_ids)))
        known = {c.id: c for c in found if c.id is not None}
    fresh = [contact_values(workspace_id, r.plan, now) for r in rows if r.contact_id is None]
    fresh_ids = iter(import_store.insert_contacts(session, workspace_id, fresh))
    ids = []
    for row in rows:
        if row.contact_id is None:
            ids.append(next(fresh_ids))
            continue
        contact = known.get(row.contact_id)
        if contact is None:  # pragma: no cover - read again under the workspace's lock
            raise NotFound("A customer of this file was deleted meanwhile: check the file again.")
        merge_contact(contact, row.plan, email_free=row.email_free)
        session.add(contact)
        ids.append(row.contact_id)
    return ids


def request_row(
    workspace_id: int,
    import_id: int,
    number: int,
    contact_id: int,
    row: ReadyRow,
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    """The columns of an imported row's request (as `Creating.create` fills them)."""
    plan, data = row.plan, row.data
    return {
        "workspace_id": workspace_id,
        "number": number,
        "contact_id": contact_id,
        "customer_name": plan.name,
        "phone": plan.phone,
        "email": plan.email,
        "language": plan.language,
        "method": plan.method,
        "channel": "+".join(plan.channels),
        "review_type": data.review_type,
        "reference": (data.reference or "").strip() or None,
        "created_by": actor.id,
        "created_by_name": actor.name,
        "created_at": now,
        "updated_at": now,
        "scheduled_at": plan.due_at,
        "retries": 0,
        "import_id": import_id,
        **consent_record(data, actor, now),
    }


def message_rows(workspace_id: int, plan: Plan, now: datetime) -> list[dict[str, Any]]:
    """The columns of a request's first messages, one per channel, each at its own time."""
    return [
        {
            "workspace_id": workspace_id,
            "kind": "initial",
            "channel": channel,
            "to_address": (plan.email if channel == "email" else plan.phone) or "",
            "due_at": plan.due_for(channel),
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for channel in plan.channels
    ]


def created_event(
    workspace_id: int, import_id: int, plan: Plan, actor: Actor, now: datetime
) -> dict[str, Any]:
    """The `created` event of an imported request (`Creating._record_created`'s detail)."""
    detail = {
        "actor_name": actor.name,
        "method": plan.method,
        "channels": list(plan.channels),
        "due_at": plan.due_at.isoformat(),
        "cooldown_overridden": False,
        "import_id": import_id,
    }
    return {
        "workspace_id": workspace_id,
        "kind": "created",
        "actor": actor.id,
        "at": now,
        "detail": detail,
    }
