"""The Notifier port: every change to a request is told to the team (Slack outbox rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session

from store.models import ReviewRequest


@dataclass(frozen=True)
class Change:
    kind: str  # created, paused, resumed, canceled, rescheduled, resent, sent, delivered, failed...
    text: str  # one line for the request's thread, e.g. "Paused by Jane"
    alert: bool = False  # managers must see it (failed, undelivered, complained, opted out)
    actor_id: str | None = None
    # The team must decide what became of a message whose outcome is unknown (the Slack
    # surface shows "Mark as sent" / "Send again").
    decision_needed: bool = False
    # The customer's own words at the end of `text` (a reply): surfaces show them quoted.
    quote: str | None = None


class Notifier(Protocol):
    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        """Record, inside the caller's transaction, what the team must be told."""
        ...

    def forget(self, session: Session, request: ReviewRequest) -> None:
        """Erase, inside the caller's transaction, what was kept to tell about a deleted request."""
        ...


class NullNotifier:
    """Tell nobody (CLI without Slack, tests of the engine alone)."""

    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        return None

    def forget(self, session: Session, request: ReviewRequest) -> None:
        return None


class RecordingNotifier:
    """Keep changes in memory, for tests of the engine."""

    def __init__(self) -> None:
        self.changes: list[tuple[int, Change]] = []
        self.forgotten: list[int] = []

    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        self.changes.append((request.number, change))

    def forget(self, session: Session, request: ReviewRequest) -> None:
        self.forgotten.append(request.number)
