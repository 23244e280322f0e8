"""Who does something to a request: a Slack user, a CLI user, a provider, the customer, the system."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Actor:
    """Who did something: a Slack user, a CLI user, a provider or the system.

    `admin` says the actor administers the workspace where the act happens: a Slack admin or
    owner, or someone in the policy's admins list (checked by the Slack surface when the act
    happens), or the operator at the CLI. It is not part of who the actor is (equality).
    """

    id: str
    name: str = ""
    admin: bool = field(default=False, compare=False)

    @property
    def label(self) -> str:
        if self.id.startswith(("U", "W")) and not self.id.startswith("UNKNOWN"):
            return f"<@{self.id}>"
        return self.name or self.id

    def as_admin(self, admin: bool = True) -> Actor:
        """Return the same actor, known (or not) to administer the workspace."""
        return replace(self, admin=admin)


SYSTEM = Actor("system", "reviewops")
TWILIO = Actor("twilio", "Twilio")
CUSTOMER = Actor("customer", "the customer")
RECONCILER = Actor("reconcile", "reconciliation")
