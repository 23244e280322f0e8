"""The Sender port: one call hands one rendered message to one provider."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

Channel = Literal["sms", "whatsapp", "email"]


class Outcome(StrEnum):
    SENT = "sent"  # the provider accepted it; provider_id says which message it is
    FAILED = "failed"  # the provider refused it for good; reason says why
    OPTED_OUT = "opted_out"  # the provider says the recipient unsubscribed (Twilio 21610)
    RETRY = "retry"  # nothing reached the provider, or it asked us to come back later
    UNKNOWN = "unknown"  # it may have reached the provider: never send it again automatically


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: int
    channel: Channel
    to: str  # E.164 phone number or email address
    body_text: str
    subject: str | None = None
    body_html: str | None = None
    sender_name: str | None = None  # SMS alphanumeric sender id or email display name
    from_address: str | None = None  # email From address (falls back to EMAIL_FROM)
    reply_to: str | None = None
    unsubscribe_url: str | None = None  # email List-Unsubscribe target
    status_callback_url: str | None = None  # Twilio StatusCallback


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider: str  # "twilio", "smtp", "console"
    provider_id: str | None = None  # Twilio MessageSid, email Message-ID
    error_code: str | None = None
    reason: str | None = None
    retry_after_seconds: float | None = None
    throttled: bool = False  # the provider said too many requests (Twilio 429/20429)


class Sender(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand one message to the provider and say what became of it; never raise for provider errors."""
        ...
