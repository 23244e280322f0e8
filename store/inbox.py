"""Webhook inbox rows: what is stored and not applied yet."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from store.models import WebhookInbox


def count_unapplied(session: Session) -> int:
    """Count the stored provider reports no applier has applied yet."""
    return int(
        session.exec(
            select(func.count())
            .select_from(WebhookInbox)
            .where(col(WebhookInbox.applied_at).is_(None))
        ).one()
    )


def oldest_unapplied(session: Session) -> datetime | None:
    """When the oldest report still waiting to be applied came in (None: none waits)."""
    return session.exec(
        select(func.min(WebhookInbox.received_at)).where(col(WebhookInbox.applied_at).is_(None))
    ).one()
