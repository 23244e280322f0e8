"""Suppressions: an erased customer's opted-out phone or email, kept only as a keyed hash.

The hash is HMAC-SHA256 under the deployment's SUPPRESSION_KEY of the E.164 phone or the
folded email, so a leaked table does not list the addresses, and one deployment's hashes
can't be matched against another's. The same key must stay: rows hashed under another key
would no longer match (bot/settings.py says what happens without one).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from store.contacts import fold_email
from store.models import Event, Suppression

PHONE = "phone"
EMAIL = "email"
# bot/settings.py's default for SUPPRESSION_KEY: public, so the hashes are only pseudonyms.
DEFAULT_SUPPRESSION_KEY = "reviewops-suppression-v1"
CONSOLE_SENDER = "console"  # a message printed by the console sender went through no number


class SuppressionKey:
    """Hash addresses the one way suppressions are stored and looked up."""

    def __init__(self, key: str = "") -> None:
        self._key = (key or DEFAULT_SUPPRESSION_KEY).encode()

    def digest(self, kind: str, value: str) -> str:
        """Return the hex HMAC of a phone (E.164) or an email (folded)."""
        text = fold_email(value) if kind == EMAIL else value
        return hmac.new(self._key, f"{kind}:{text}".encode(), hashlib.sha256).hexdigest()

    def lift_phone(
        self,
        session: Session,
        phone: str,
        workspaces: Collection[int] | None,
        keyword: str,
        now: datetime,
    ) -> bool:
        """Lift an erased customer's suppression of this number (the journal's START)."""
        return lift_phone(session, self.digest(PHONE, phone), workspaces, keyword, now)

    def workspaces_to_lift(
        self, session: Session, phone: str, senders: Collection[str]
    ) -> list[int]:
        """Name the workspaces where a START from this number to `senders` lifts a suppression."""
        return workspaces_to_lift(session, self.digest(PHONE, phone), senders)


def find(session: Session, workspace_id: int, kind: str, digest: str) -> Suppression | None:
    """Return the workspace's suppression of this hashed address, if any."""
    return session.exec(
        select(Suppression).where(
            Suppression.workspace_id == workspace_id,
            Suppression.kind == kind,
            Suppression.digest == digest,
        )
    ).first()


def keep(
    session: Session,
    workspace_id: int,
    kind: str,
    digest: str,
    opted_out_at: datetime,
    now: datetime,
    senders: Iterable[str] = (),
) -> Suppression:
    """Add (or widen) the suppression of a hashed address; saying it twice keeps one row."""
    row = find(session, workspace_id, kind, digest)
    if row is None:
        row = Suppression(
            workspace_id=workspace_id,
            kind=kind,
            digest=digest,
            opted_out_at=opted_out_at,
            erased_at=now,
            senders=sorted(set(senders)),
        )
    else:
        row.senders = sorted(set(row.senders) | set(senders))
        row.erased_at = now
    session.add(row)
    return row


def workspaces_to_lift(session: Session, digest: str, senders: Collection[str]) -> list[int]:
    """Return the workspaces whose suppression of a number a START to `senders` lifts.

    Like a reply's routing (store/replies.py): those that texted the erased customer through one
    of our real senders it came to; else, only then, those that texted them through the console.
    """
    rows = session.exec(
        select(Suppression).where(Suppression.kind == PHONE, Suppression.digest == digest)
    ).all()
    through = [r.workspace_id for r in rows if set(r.senders) & set(senders)]
    if not through:
        through = [r.workspace_id for r in rows if CONSOLE_SENDER in r.senders]
    return sorted(set(through))


def lift_phone(
    session: Session,
    digest: str,
    workspaces: Collection[int] | None,
    keyword: str,
    now: datetime,
) -> bool:
    """Forget the suppressions of a number whose customer opted back in (START).

    Called by the journal only (bot/usecases/journal.py::opt_in_phone), in `workspaces` (None:
    everywhere). No request is left to log it under: each workspace gets an event, without the
    number.
    """
    query = select(Suppression).where(Suppression.kind == PHONE, Suppression.digest == digest)
    if workspaces is not None:
        query = query.where(col(Suppression.workspace_id).in_(list(workspaces)))
    rows = session.exec(query).all()
    for row in rows:
        session.delete(row)
        detail = {"actor_name": "the customer", "keyword": keyword, "erased_customer": True}
        session.add(
            Event(
                workspace_id=row.workspace_id,
                kind="opted_in",
                actor="customer",
                at=now,
                detail=detail,
            )
        )
    return bool(rows)
