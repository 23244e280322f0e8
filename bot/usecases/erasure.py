"""Erasure: a customer erased on request, old requests by retention, uninstalled workspaces.

One rule erases a request's content (`corrections.erase_content`, as a delete does); this
module applies it to a customer's requests, to the requests older than the workspace's
`retention_days`, and to every request of a workspace uninstalled for longer than the grace
period, and then erases the contact itself. An erased contact who had opted out leaves a
suppression: a keyed hash of the address (store/suppressions.py), so they are never contacted
again unless they opt back in (START).

- A customer's erasure hides their requests like a delete (`deleted_at`).
- Retention and uninstalls keep the request rows (`erased_at`): number, dates, channel and
  statuses stay, so the counts over a period still add up; only personal data goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from bot.domain.channels import PHONE_CHANNELS
from bot.domain.contacts import mask_contact
from bot.domain.errors import NotAllowed, NotFound
from bot.domain.policy_read import stored_policy
from bot.domain.status import HANDED_OVER
from bot.usecases.actors import Actor
from bot.usecases.audit import record_audit
from bot.usecases.corrections import erase_content
from bot.usecases.notifier import Change
from bot.usecases.services import UseCase
from store import suppressions
from store.models import Contact, Event, Message, ReviewRequest, Workspace

ERASED = "erased"  # an erased contact's and a retention-erased request's name
RETENTION = Actor("retention", "retention")
UNINSTALL = Actor("uninstall", "uninstall grace period")
BATCH = 200  # requests erased per transaction: a run is bounded, the next one goes on


@dataclass(frozen=True)
class ErasureRun:
    """What a run of the daily job erased."""

    by_retention: int = 0
    by_uninstall: int = 0


class Erasure(UseCase):
    """Erase customers' personal data, on request or when it is kept no longer."""

    def erase_customer(self, workspace_id: int, contact_id: int, actor: Actor) -> int:
        """Erase a customer: every request of theirs as a delete does, then the contact.

        Return how many requests were erased.

        :raise NotAllowed: the actor is not an admin, or a message is being sent right now.
        :raise NotFound: no such customer here (or already erased).
        """
        if not actor.admin:
            raise NotAllowed("Only an admin of this workspace can erase a customer.")
        now = self.clock.now()
        with self.db.write() as session:
            contact = session.get(Contact, contact_id)
            if contact is None or contact.workspace_id != workspace_id or _erased(contact):
                raise NotFound("That customer doesn't exist (any more).")
            senders = _texted_through(session, contact)
            requests = _requests_of(session, contact)
            for request in requests:
                erase_content(self.journal, session, request, now)
                request.deleted_at = now
                detail = {"number": request.number, "erased": "customer"}
                self.journal.record(session, request, "deleted", actor, now, detail=detail)
                said = f"Erased at the customer's request by {actor.label}"
                self.journal.notify(session, request, Change("deleted", said, actor_id=actor.id))
            # In the erasing transaction, named as the trail names customers: masked.
            target = mask_contact(contact.phone, contact.email) or f"contact {contact.id}"
            detail = {"requests": len(requests)}
            record_audit(session, workspace_id, actor, "erase", now, target=target, detail=detail)
            self._erase_contact(session, contact, senders, now)
            return len(requests)

    def run_daily(self, grace_days: int, batch: int = BATCH) -> ErasureRun:
        """Erase what retention and the uninstall grace period no longer keep, a batch each.

        Idempotent: what was erased is marked and never picked again.
        """
        now = self.clock.now()
        retained = uninstalled = 0
        with self.db.read() as session:
            workspaces = list(session.exec(select(Workspace)).all())
        for workspace in workspaces:
            assert workspace.id is not None
            days = stored_policy(workspace.policy).retention_days
            if self._uninstalled_before(workspace.id, now - timedelta(days=grace_days)):
                uninstalled += self._erase_old(workspace.id, None, UNINSTALL, now, batch)
            elif days > 0:
                cutoff = now - timedelta(days=days)
                retained += self._erase_old(workspace.id, cutoff, RETENTION, now, batch)
        return ErasureRun(retained, uninstalled)

    # --- the daily job's parts ---------------------------------------------------------------

    def _uninstalled_before(self, workspace_id: int, when: datetime) -> bool:
        """Say whether the workspace installed through OAuth, then uninstalled before `when`.

        A single-workspace install (SLACK_BOT_TOKEN) records no install: its reinstall would
        not be seen either, so the grace period never erases it (its operator decides).
        """
        with self.db.read() as session:
            kinds = session.exec(
                select(Event.kind, Event.at)
                .where(
                    Event.workspace_id == workspace_id,
                    col(Event.request_id).is_(None),
                    col(Event.kind).in_(["installed", "uninstalled"]),
                )
                .order_by(col(Event.at).desc(), col(Event.id).desc())
            ).all()
        if not kinds or not any(kind == "installed" for kind, _ in kinds):
            return False
        last, at = kinds[0]
        return last == "uninstalled" and at <= when

    def _erase_old(
        self, workspace_id: int, cutoff: datetime | None, actor: Actor, now: datetime, batch: int
    ) -> int:
        """Erase up to `batch` requests created before `cutoff`, then their contacts; return how many.

        `cutoff` None (an uninstalled workspace): every request, then, when none is left, up
        to `batch` of the contacts left (those without a request); they count in the result.
        """
        with self.db.write() as session:
            query = select(ReviewRequest).where(*_still_kept(workspace_id))
            if cutoff is not None:
                query = query.where(col(ReviewRequest.created_at) < cutoff)
            query = query.order_by(col(ReviewRequest.id)).limit(batch)
            if self.db.dialect == "postgresql":
                # Two scheduler processes running the job at once take different rows (each
                # erased, and said, once); SQLite's single writer already serialises them.
                query = query.with_for_update(skip_locked=True)
            requests = session.exec(query).all()
            erased = [r for r in requests if not _being_sent(session, r)]
            contacts = {r.contact_id for r in erased if r.contact_id is not None}
            senders = {c: _texted_through(session, session.get(Contact, c)) for c in contacts}
            for request in erased:
                self._erase_kept(session, request, actor, now)
            for contact_id, through in senders.items():
                contact = session.get(Contact, contact_id)
                if contact is not None and not _requests_of(session, contact, kept_only=True):
                    self._erase_contact(session, contact, through, now)
            if cutoff is None and not requests and not _requests_left(session, workspace_id):
                # Uninstalled: then the customers left, once no request of theirs is left
                # (not merely held by another run, whose contacts it erases itself).
                left = _contacts_of(session, workspace_id, batch, self.db.dialect)
                for contact in left:
                    self._erase_contact(session, contact, _texted_through(session, contact), now)
                return len(left)
            return len(erased)

    def _erase_kept(
        self, session: Session, request: ReviewRequest, actor: Actor, now: datetime
    ) -> None:
        """Erase a request's personal data, keeping its row for the counts."""
        erase_content(self.journal, session, request, now, name=ERASED)
        request.erased_at = now
        self.journal.record(session, request, "erased", actor, now, detail={"by": actor.id})
        # Only a card already in Slack is updated: an old request that never had one must not
        # post a card now, and an uninstalled workspace's Slack can't be reached any more.
        if request.slack_channel and actor != UNINSTALL:
            said = f"Customer data erased ({actor.name})"
            self.journal.notify(session, request, Change("erased", said))

    def _erase_contact(
        self, session: Session, contact: Contact, senders: set[str], now: datetime
    ) -> None:
        """Erase a contact's name and addresses; keep a hash of each it had opted out."""
        assert contact.id is not None
        key = self.journal.suppression_key
        opted: tuple[tuple[str, str | None, datetime | None, set[str]], ...] = (
            (suppressions.PHONE, contact.phone, contact.phone_opted_out_at, senders),
            (suppressions.EMAIL, contact.email, contact.email_opted_out_at, set()),
        )
        for kind, address, at, through in opted:
            if address and at is not None:
                digest = key.digest(kind, address)
                suppressions.keep(session, contact.workspace_id, kind, digest, at, now, through)
        contact.name, contact.phone, contact.email = ERASED, None, None
        session.add(contact)


def _erased(contact: Contact) -> bool:
    return contact.name == ERASED and contact.phone is None and contact.email is None


def _requests_of(
    session: Session, contact: Contact, *, kept_only: bool = False
) -> list[ReviewRequest]:
    """Return a contact's requests not yet deleted (`kept_only`: nor erased)."""
    query = select(ReviewRequest).where(
        ReviewRequest.contact_id == contact.id, col(ReviewRequest.deleted_at).is_(None)
    )
    if kept_only:
        query = query.where(col(ReviewRequest.erased_at).is_(None))
    return list(session.exec(query.order_by(col(ReviewRequest.id))).all())


def _still_kept(workspace_id: int) -> tuple[ColumnElement[bool], ...]:
    """The workspace's requests not yet erased nor deleted: what the job may still erase."""
    return (
        col(ReviewRequest.workspace_id) == workspace_id,
        col(ReviewRequest.erased_at).is_(None),
        col(ReviewRequest.deleted_at).is_(None),
    )


def _requests_left(session: Session, workspace_id: int) -> bool:
    """Say whether any request of the workspace still waits for erasure (locked or not)."""
    query = select(ReviewRequest.id).where(*_still_kept(workspace_id))
    return session.exec(query.limit(1)).first() is not None


def _contacts_of(session: Session, workspace_id: int, limit: int, dialect: str) -> list[Contact]:
    """Return up to `limit` of a workspace's contacts not yet erased (and not being erased by
    another process: their rows are skipped, on PostgreSQL)."""
    not_erased = or_(
        col(Contact.name) != ERASED,
        col(Contact.phone).is_not(None),
        col(Contact.email).is_not(None),
    )
    query = select(Contact).where(Contact.workspace_id == workspace_id, not_erased)
    query = query.order_by(col(Contact.id)).limit(limit)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def _being_sent(session: Session, request: ReviewRequest) -> bool:
    """Say whether a message of the request is being handed over (erased on a later run)."""
    return (
        session.exec(
            select(Message.id).where(
                Message.request_id == request.id, col(Message.status).in_(["claimed", "sending"])
            )
        ).first()
        is not None
    )


def _texted_through(session: Session, contact: Contact | None) -> set[str]:
    """Name the senders our texts to the contact went through (for a later START).

    Read from every text of theirs, those already erased by an earlier batch too (a message
    keeps its sender when its address goes).
    """
    if contact is None or not contact.phone:
        return set()
    rows = session.exec(
        select(Message.pace_key)
        .join(ReviewRequest, col(Message.request_id) == col(ReviewRequest.id))
        .where(
            ReviewRequest.contact_id == contact.id,
            col(Message.channel).in_(list(PHONE_CHANNELS)),
            col(Message.status).in_([s.value for s in HANDED_OVER]),
        )
    ).all()
    return {key or suppressions.CONSOLE_SENDER for key in rows}
