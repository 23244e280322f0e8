"""Who does something to a request: a Slack user, a CLI user, a provider, the customer, the system."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who did something: a Slack user, a CLI user, a provider or the system."""

    id: str
    name: str = ""

    @property
    def label(self) -> str:
        if self.id.startswith(("U", "W")) and not self.id.startswith("UNKNOWN"):
            return f"<@{self.id}>"
        return self.name or self.id


SYSTEM = Actor("system", "reviewops")
TWILIO = Actor("twilio", "Twilio")
CUSTOMER = Actor("customer", "the customer")
RECONCILER = Actor("reconcile", "reconciliation")
