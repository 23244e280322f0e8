"""The Notifier port: every change to a request is told to the team (Slack outbox rows) and, where
a workspace asked for them, to its own system (event outbox rows)."""

from __future__ import annotations

from collections.abc import Iterable
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
    # The message the change is about (a send, a provider's report), when there is one.
    message_id: int | None = None


class Notifier(Protocol):
    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        """Record, inside the caller's transaction, what the team must be told."""
        ...

    def forget(self, session: Session, request: ReviewRequest) -> None:
        """Erase, inside the caller's transaction, what was kept to tell about a deleted request."""
        ...


class Notifiers:
    """Tell every notifier, in order, inside the same transaction (Slack, outbound events)."""

    def __init__(self, notifiers: Iterable[Notifier]) -> None:
        self.notifiers = tuple(notifiers)

    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        for notifier in self.notifiers:
            notifier.notify(session, request, change)

    def forget(self, session: Session, request: ReviewRequest) -> None:
        for notifier in self.notifiers:
            notifier.forget(session, request)


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
