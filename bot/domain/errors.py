"""Domain errors carry the text a user sees, and the input field it concerns."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with user-facing text; `field` names the input it concerns, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors: dict[str, str] = {field: message} if field else {}


class InvalidInput(DomainError):
    """What the user typed is wrong; nothing was stored."""

    @classmethod
    def many(cls, errors: dict[str, str]) -> InvalidInput:
        """Report several field errors at once (a modal shows each on its own field)."""
        first_field, first_message = next(iter(errors.items()))
        error = cls(" ".join(errors.values()), field=first_field)
        error.errors = dict(errors)
        if len(errors) == 1:
            error.message = first_message
        return error


class NotAllowed(DomainError):
    """The action does not apply to the request in its current state."""


class NotFound(DomainError):
    """No such request (or workspace)."""


class Conflict(DomainError):
    """The action collides with an earlier one (e.g. the cooldown); an override may exist."""
