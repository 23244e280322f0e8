"""What every request use-case is bound to: the database, the clock, the journal, the wake-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.usecases.journal import Journal
from store.db import Database


@dataclass(frozen=True)
class Services:
    db: Database
    clock: Clock
    journal: Journal
    default_region: str
    wake: Callable[[], None]  # tell the dispatcher something is due now


class UseCase:
    """A group of use-cases sharing the services (one module each: creating, lifecycle...)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.db = services.db
        self.clock = services.clock
        self.journal = services.journal
        self.default_region = services.default_region

    def wake(self) -> None:
        """Wake the dispatcher: a message became due now."""
        self.services.wake()
