"""What users give the request use-cases, and what those give back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.domain.pacing import PacedWait
from bot.domain.policy import Method, WorkspacePolicy
from store import queries
from store.models import Contact, Event, Message, ReviewRequest

ReviewType = Literal["service", "product"]
When = Literal["now", "delay", "at"]


class RequestCreate(BaseModel):
    """What a user typed to ask one customer for a review; validated by `ReviewOps.create`."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    method: Method | None = None  # None: the workspace default
    review_type: ReviewType = "service"
    reference: str | None = None
    when: When = "delay"
    at: datetime | None = None  # with when="at"
    delay: timedelta | None = None  # overrides the workspace delay with when="delay"
    language: str | None = None
    override_cooldown: bool = False
    origin_channel: str | None = None  # Slack channel the command ran in


class RequestEdit(BaseModel):
    """Corrections to a request before it goes out; None leaves a field as it is, "" clears it."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    reference: str | None = None
    override_cooldown: bool = False


@dataclass
class BulkResult:
    """What a change to several requests did: which changed, and why the others did not."""

    changed: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class RequestDetail:
    request: ReviewRequest
    messages: list[Message]
    events: list[Event]
    contact: Contact | None
    policy: WorkspacePolicy
    # Messages waiting for their slot with a provider sender, by message id.
    paced: dict[int, PacedWait] = field(default_factory=dict)


@dataclass
class CustomerLookup:
    """What a customer search found: one customer's history, or the customers to choose from."""

    query: str
    history: queries.ContactHistory | None
    choices: list[Contact]
    more: bool = False  # more customers matched than `choices` holds
