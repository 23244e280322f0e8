"""OAuth `state` values used once: the first redirect that brings one back takes it.

The primary key decides between two redirects racing with the same state, in any process:
the second insert fails. Rows older than a state's life are purged as new ones come.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from store.db import Database
from store.models import OAuthState


def use_once(db: Database, state: str, now: datetime, life: timedelta) -> bool:
    """Mark `state` used; False when it was used before (the caller refuses it)."""
    try:
        with db.write() as session:
            # A state older than its life is refused by its signature: its row can go.
            session.execute(delete(OAuthState).where(col(OAuthState.used_at) < now - life))
            session.add(OAuthState(state=state, used_at=now))
    except IntegrityError:
        return False
    return True
