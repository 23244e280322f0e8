"""The audit trail's rows: one insert, and a workspace's entries newest first, by keyset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from store.models import Audit
from store.queries import Cursor


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read; every field narrows them."""

    actor: str | None = None  # an actor id ("U0123", "cli:ops"), or a name in any case
    action: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditPage:
    rows: list[Audit]
    next: Cursor | None  # older entries, when there are more


def add(
    session: Session,
    *,
    workspace_id: int,
    at: datetime,
    actor_id: str,
    actor_name: str,
    origin: str,
    action: str,
    target: str,
    detail: dict[str, Any],
) -> Audit:
    """Add one entry in the caller's transaction."""
    row = Audit(
        workspace_id=workspace_id,
        at=at,
        actor_id=actor_id[:64],
        actor_name=actor_name[:100],
        origin=origin,
        action=action,
        target=target[:200],
        detail=detail,
    )
    session.add(row)
    return row


def _where(workspace_id: int, f: AuditFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [col(Audit.workspace_id) == workspace_id]
    if f.actor:
        # A name in any case, compared whole: what was typed is a value, never a pattern.
        name = func.lower(col(Audit.actor_name)) == f.actor.lower()
        clauses.append(or_(col(Audit.actor_id) == f.actor, name))
    if f.action:
        clauses.append(col(Audit.action) == f.action)
    if f.at_from is not None:
        clauses.append(col(Audit.at) >= f.at_from)
    if f.at_to is not None:
        clauses.append(col(Audit.at) < f.at_to)
    return clauses


def page(
    session: Session, workspace_id: int, f: AuditFilter, *, after: Cursor | None, limit: int
) -> AuditPage:
    """Read up to `limit` entries, newest first, older than `after` when given."""
    clauses = _where(workspace_id, f)
    if after is not None:
        clauses.append(
            or_(
                col(Audit.at) < after.created_at,
                (col(Audit.at) == after.created_at) & (col(Audit.id) < after.id),
            )
        )
    rows = list(
        session.exec(
            select(Audit)
            .where(*clauses)
            .order_by(col(Audit.at).desc(), col(Audit.id).desc())
            .limit(limit + 1)
        ).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    return AuditPage(rows, Cursor(last.at, last.id) if last and last.id is not None else None)
