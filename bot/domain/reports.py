"""What providers and customers report, in our words: adapters translate their vocabulary into these."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.status import Status


@dataclass(frozen=True)
class DeliveryReport:
    """A provider says a message reached a status, maybe with an error code and reason."""

    status: Status
    provider_word: str  # the provider's own word, kept in the event and the de-dup key
    error_code: str | None = None
    reason: str | None = None
    recipient_opted_out: bool = False  # the provider refuses the number: the customer opted out


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    REPLY = "reply"


@dataclass(frozen=True)
class InboundText:
    """A customer's text to our number: what it asks for, the keyword that said so, the text."""

    intent: Intent
    keyword: str
    text: str


@dataclass(frozen=True)
class EmailReport:
    """An email provider says what became of a message: a status, a delay, or nothing we track."""

    status: Status | None  # None: nothing we track (or a delay)
    delayed: bool = False  # a temporary failure the provider retries by itself
    code: str | None = None
    reason: str | None = None
