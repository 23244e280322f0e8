"""Contacts by identity: a phone in E.164, an email compared without regard to case, a name.

An email address is matched case-insensitively everywhere through `email_is`, and a unique
index on (workspace_id, lower(email)) keeps one contact per folded address (migration 0004).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from store.models import Contact, ReviewRequest
from store.search import like_escape

MAX_CONTACT_CHOICES = 20


def fold_email(address: str) -> str:
    """Return an address as contacts are matched by it: lower case."""
    return address.lower()


def same_email(a: str | None, b: str | None) -> bool:
    """Say whether two addresses are the same contact's (compared without regard to case)."""
    return a is not None and b is not None and fold_email(a) == fold_email(b)


def email_is(address: str) -> ColumnElement[bool]:
    """Return the condition "the contact's email is this address, in any case"."""
    return func.lower(col(Contact.email)) == fold_email(address)


CANCELED = "canceled"  # bot.domain.status.Status.CANCELED (store imports nothing of bot)


def counts_for_cooldown(workspace_id: int, since: datetime) -> list[ColumnElement[bool]]:
    """The one rule of which requests count for a contact's cooldown since a time.

    Not deleted, not canceled, created since then: the send form (bot/usecases/creating.py)
    and an import (store/imports.py `latest_requests`) both ask it.
    """
    return [
        col(ReviewRequest.workspace_id) == workspace_id,
        col(ReviewRequest.created_at) >= since,
        col(ReviewRequest.deleted_at).is_(None),
        col(ReviewRequest.status) != CANCELED,
    ]


def contact_by_email(session: Session, workspace_id: int, email: str) -> Contact | None:
    """Return the workspace's contact with this address, in any case (at most one)."""
    return session.exec(
        select(Contact).where(Contact.workspace_id == workspace_id, email_is(email))
    ).first()


def contact_by_phone(session: Session, workspace_id: int, phone: str) -> Contact | None:
    """Return the workspace's contact with this E.164 number (at most one)."""
    return session.exec(
        select(Contact).where(Contact.workspace_id == workspace_id, Contact.phone == phone)
    ).first()


def contacts_by_phone(session: Session, workspace_id: int, phone: str) -> list[Contact]:
    """Return the contact with this E.164 number (at most one: phones are unique per workspace)."""
    found = contact_by_phone(session, workspace_id, phone)
    return [found] if found is not None else []


def contacts_with_phone_anywhere(
    session: Session, phone: str, within: Collection[int] | None = None
) -> list[Contact]:
    """Return the contacts with this E.164 number in every workspace (or those `within`)."""
    # The carrier blocks a number for our sender whichever team asked.
    query = select(Contact).where(Contact.phone == phone)
    if within is not None:
        query = query.where(col(Contact.workspace_id).in_(list(within)))
    return list(session.exec(query).all())


def contacts_by_email(session: Session, workspace_id: int, email: str) -> list[Contact]:
    """Return the contacts with this address, compared without regard to case."""
    return list(
        session.exec(
            select(Contact)
            .where(Contact.workspace_id == workspace_id, email_is(email))
            .order_by(col(Contact.id))
            .limit(MAX_CONTACT_CHOICES + 1)
        ).all()
    )


def contacts_by_name(session: Session, workspace_id: int, name: str) -> list[Contact]:
    """Return the contacts called this (case-insensitive), by their name or a request's name.

    Exact names win; with none, names that contain the text. At most MAX_CONTACT_CHOICES + 1
    rows, so a caller can say "more".
    """
    wanted = " ".join(name.split()).lower()
    r = ReviewRequest
    named_in_requests = (
        select(r.contact_id)
        .where(
            col(r.workspace_id) == workspace_id,
            col(r.deleted_at).is_(None),
            col(r.contact_id).is_not(None),
        )
        .distinct()
    )
    pattern = f"%{like_escape(wanted)}%"

    def exact(column: Any) -> ColumnElement[bool]:
        return func.lower(column) == wanted

    def partial(column: Any) -> ColumnElement[bool]:
        return func.lower(column).like(pattern, escape="\\")

    for matches in (exact, partial):
        ids = named_in_requests.where(matches(col(r.customer_name)))
        rows = list(
            session.exec(
                select(Contact)
                .where(
                    Contact.workspace_id == workspace_id,
                    or_(matches(col(Contact.name)), col(Contact.id).in_(ids)),
                )
                .order_by(col(Contact.name), col(Contact.id))
                .limit(MAX_CONTACT_CHOICES + 1)
            ).all()
        )
        if rows:
            return rows
    return []
