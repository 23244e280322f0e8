"""What users give the request use-cases, and what those give back.

`RequestCreate` and `RequestEdit` are THE input model of a request, whoever fills them (the
Slack modal, the quick form, the CLI): each field is checked as it is built, with the limits
of the column it is stored in (store/models.py), and a wrong one is refused as an
`InvalidInput` naming the field and the reason ("name: at most 100 characters (got 10,000)").
Rules that need the workspace (phone region, opt-outs, cooldown, the send window) stay with
the use-case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from bot.domain import send_time
from bot.domain.contacts import tidy_name
from bot.domain.errors import InvalidInput
from bot.domain.pacing import PacedWait
from bot.domain.policy import Method, WorkspacePolicy, supported_language
from bot.domain.send_time import QuietWait, WindowWait
from bot.domain.typed_text import control_character_reason, validation_reason
from store import queries
from store.models import (
    CUSTOMER_NAME_MAX,
    EMAIL_MAX,
    LANGUAGE_MAX,
    REFERENCE_MAX,
    SLACK_ID_MAX,
    Contact,
    Event,
    Message,
    ReviewRequest,
)

ReviewType = Literal["service", "product"]
# How a request was asked for: the Slack surface, the CLI, an API key, an import file, an
# order trigger (Shopify, Stripe) or a Slack Workflow Builder step. None: read from the actor
# (bot.usecases.audit.origin_of).
RequestOrigin = Literal["slack", "cli", "api", "import", "order", "workflow"]
When = send_time.When  # how a request says when it goes (the domain reads it)

# A phone number as typed ("+33 (0)6 10-20-30-40"): longer than the E.164 form it is stored
# in (store.models.PHONE_MAX), but no real number needs more.
TYPED_PHONE_MAX = 40


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _tidy(value: Any) -> Any:
    return tidy_name(value) if isinstance(value, str) else value


def _one_line(value: str | None) -> str | None:
    problem = control_character_reason(value) if value else None
    if problem:
        raise ValueError(problem)
    return value


def _language(value: str | None) -> str | None:
    return supported_language(value) if value else None


# Each typed text of one line: tidied, then at most its column's size, no control characters.
Name = Annotated[
    Annotated[str, StringConstraints(max_length=CUSTOMER_NAME_MAX)] | None,
    BeforeValidator(_tidy),
    AfterValidator(_one_line),
]
Phone = Annotated[
    Annotated[str, StringConstraints(max_length=TYPED_PHONE_MAX)] | None,
    BeforeValidator(_stripped),
    AfterValidator(_one_line),
]
Email = Annotated[
    Annotated[str, StringConstraints(max_length=EMAIL_MAX)] | None,
    BeforeValidator(_stripped),
    AfterValidator(_one_line),
]
Reference = Annotated[
    Annotated[str, StringConstraints(max_length=REFERENCE_MAX)] | None,
    BeforeValidator(_stripped),
    AfterValidator(_one_line),
]
SlackId = Annotated[
    Annotated[str, StringConstraints(max_length=SLACK_ID_MAX)] | None,
    BeforeValidator(_stripped),
    AfterValidator(_one_line),
]
Language = Annotated[
    Annotated[str, StringConstraints(max_length=LANGUAGE_MAX)] | None,
    BeforeValidator(_stripped),
    AfterValidator(_language),
]


class TypedInput(BaseModel):
    """A model of what a person typed: a wrong field is an `InvalidInput`, not a crash."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _refuse_in_words(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            # Not a ValueError: pydantic lets it through, so every surface gets a DomainError.
            errors: dict[str, str] = {}
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "input"
                errors.setdefault(name, f"{name}: {validation_reason(error)}")
            raise InvalidInput.many(errors) from None


class RequestCreate(TypedInput):
    """What a user typed to ask one customer for a review; validated by `ReviewOps.create`.

    An empty or blank name is kept empty: the use-case names that customer "customer".
    """

    name: Name = None
    phone: Phone = None
    email: Email = None
    method: Method | None = None  # None: the workspace default
    review_type: ReviewType = "service"
    reference: Reference = None
    when: When = "delay"
    at: datetime | None = None  # with when="at"
    delay: timedelta | None = None  # overrides the workspace delay with when="delay"
    language: Language = None  # None: the workspace's language
    override_cooldown: bool = False
    origin_channel: SlackId = None  # Slack channel the command ran in
    origin: RequestOrigin | None = None
    # The sender confirms the customer agreed to be contacted (required by `require_consent`).
    consent: bool = False


class RequestEdit(TypedInput):
    """Corrections to a request before it goes out; None leaves a field as it is, "" clears it."""

    name: Name = None
    phone: Phone = None
    email: Email = None
    reference: Reference = None
    override_cooldown: bool = False


@dataclass
class BulkResult:
    """What a change to several requests did: which changed, and why the others did not."""

    changed: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)  # refused because no such request


@dataclass
class RequestDetail:
    request: ReviewRequest
    messages: list[Message]
    events: list[Event]
    contact: Contact | None
    policy: WorkspacePolicy
    # Messages waiting for their slot with a provider sender, by message id.
    paced: dict[int, PacedWait] = field(default_factory=dict)
    # Texts held back by the recipient's local hours, by message id.
    quiet: dict[int, QuietWait] = field(default_factory=dict)
    # Messages held back by the send window or a holiday, by message id.
    window: dict[int, WindowWait] = field(default_factory=dict)


@dataclass
class CustomerLookup:
    """What a customer search found: one customer's history, or the customers to choose from."""

    query: str
    history: queries.ContactHistory | None
    choices: list[Contact]
    more: bool = False  # more customers matched than `choices` holds
