"""The REST API's models: what it reads (checked by the same field rules as Slack and the CLI)
and what it answers. `bot/api/openapi.py` generates the OpenAPI document from these classes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from bot.domain.errors import InvalidInput
from bot.domain.policy import Method
from bot.domain.status import PENDING
from bot.domain.timing import parse_delay, parse_when
from bot.usecases.history import (
    Criteria,
    Cursor,
    ListedRequest,
    Message,
    ReviewRequest,
    SenderTally,
    Tally,
)
from bot.usecases.inputs import (
    Email,
    Language,
    Name,
    Phone,
    Reference,
    RequestCreate,
    RequestDetail,
    ReviewType,
    TypedInput,
)
from bot.usecases.periods import DEFAULT_DAYS, MAX_DAYS, between, last_days

MAX_LIMIT = 100
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME_TEXT = Annotated[str, StringConstraints(max_length=60)]


def _iso_day(value: object) -> object:
    # Only YYYY-MM-DD: pydantic would also read "0" or "1700000000" as a day.
    if isinstance(value, str) and not ISO_DAY.fullmatch(value):
        raise ValueError(f"'{value[:20]}' is not a day like 2026-12-01")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]


class ApiInput(TypedInput):
    """What a caller sent: an unknown field is refused by name, like a wrong one."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RequestIn(ApiInput):
    """A review request to create: the send form's fields (JSON types as they are: `true`,
    not `"yes"`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: Name = None
    phone: Phone = None
    email: Email = None
    method: Method | None = Field(default=None, description="None: the workspace's method.")
    type: ReviewType = "service"
    reference: Reference = None
    language: Language = Field(
        default=None, description="A language the templates have; None: the workspace's."
    )
    send_at: TIME_TEXT | None = Field(
        default=None,
        description="When to send: 2026-12-01T10:00:00+01:00, 2026-12-01 10:00 (workspace "
        "time), `tomorrow 10:00` or `in 2h`. Not with delay.",
    )
    delay: TIME_TEXT | None = Field(
        default=None, description="Send after this delay: 0, 30m, 2h, 1d, 7d. Not with send_at."
    )
    override_cooldown: bool = False
    consent: bool = Field(default=False, description="The customer agreed to be contacted.")

    def to_create(self, *, now: datetime, timezone: Callable[[], str]) -> RequestCreate:
        """Read the times as Slack and the CLI do; return the use-case's input.

        `timezone` (the workspace's: a read) is asked only to read a `send_at`.

        :raise InvalidInput: both times given, a time that can't be read, or a wrong field.
        """
        if self.send_at is not None and self.delay is not None:
            raise InvalidInput("send_at: give send_at or delay, not both.", field="send_at")
        at = (
            parse_when(self.send_at, now=now, tz=timezone(), field="send_at")
            if self.send_at
            else None
        )
        delay: timedelta | None = parse_delay(self.delay) if self.delay is not None else None
        return RequestCreate(
            name=self.name,
            phone=self.phone,
            email=self.email,
            method=self.method,
            review_type=self.type,
            reference=self.reference,
            when="at" if at else "delay",
            at=at,
            delay=delay,
            language=self.language,
            override_cooldown=self.override_cooldown,
            origin="api",
            consent=self.consent,
        )


class ListQuery(ApiInput):
    """The list's filters (as Slack's `/reviews list` and the CLI's `list` take them)."""

    status: list[Annotated[str, StringConstraints(max_length=20)]] = Field(
        default_factory=list, max_length=20, description="Statuses, repeatable."
    )
    via: Annotated[str, StringConstraints(max_length=20)] | None = None
    type: Annotated[str, StringConstraints(max_length=20)] | None = None
    reference: Reference = None
    sender: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Who created them: a Slack user id, or `api:<key id>`."
    )
    q: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Free text: a name, email or phone, whole or partial."
    )
    created_from: Day | None = None
    created_to: Day | None = None
    sent_from: Day | None = None
    sent_to: Day | None = None
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="`next_cursor` of the previous page."
    )
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT)

    def criteria(self) -> Criteria:
        return Criteria(
            statuses=[word for item in self.status for word in item.split(",")],
            via=self.via,
            sender=self.sender,
            review_type=self.type,
            reference=self.reference,
            created_from=self.created_from,
            created_to=self.created_to,
            sent_from=self.sent_from,
            sent_to=self.sent_to,
            text=self.q,
        )

    def after(self) -> Cursor | None:
        """Read the cursor. :raise InvalidInput: not one this API gave."""
        if not self.cursor:
            return None
        try:
            cursor = Cursor.decode(self.cursor)
        except ValueError:
            cursor = None
        # Ours carry a UTC time and a row id; anything else was made up or cut.
        if cursor is None or cursor.created_at.tzinfo is None or not 0 < cursor.id < 2**63:
            raise InvalidInput(
                "cursor: not a cursor this API gave (use next_cursor as it came).", field="cursor"
            )
        return cursor


class StatsQuery(ApiInput):
    """A period as `/reviews stats` takes it: the last `days` (7 by default) up to now, or
    whole days `from` (and `to`, included) in the workspace's timezone."""

    days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None

    def period(self, *, now: datetime, timezone: str) -> tuple[datetime, datetime | None]:
        """Return the period's UTC bounds (end exclusive, None: up to now), by the one rule
        of periods (bot/usecases/periods.py) that Slack and the CLI use.

        :raise InvalidInput: `days` with days, `to` without `from`, or what `periods` refuses.
        """
        if self.from_ is None:
            if self.to is not None:
                raise InvalidInput("from: say where the period starts.", field="from")
            found = last_days(self.days or DEFAULT_DAYS, now=now)
        elif self.days is not None:
            raise InvalidInput("days: give days, or from and to, not both.", field="days")
        else:
            found = between(self.from_, self.to, now=now, timezone=timezone)
        return found.start, found.end


class MessageOut(BaseModel):
    kind: str
    channel: str
    status: str
    due_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    error_code: str | None
    error_reason: str | None

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls.model_validate(m, from_attributes=True)


class RequestOut(BaseModel):
    number: int
    status: str
    name: str
    phone: str | None
    email: str | None
    method: str
    channel: str
    type: str
    reference: str | None
    language: str
    origin: str | None
    created_at: datetime
    created_by: str
    created_by_name: str
    due_at: datetime | None = Field(description="When its first message is (was) due.")
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    retries: int
    deleted: bool
    waiting: list[str] = Field(default_factory=list, description="Statuses of what still waits.")

    @classmethod
    def of(cls, r: ReviewRequest, waiting: frozenset[str] = frozenset()) -> RequestOut:
        return cls(
            number=r.number,
            status=r.status,
            name=r.customer_name,
            phone=r.phone,
            email=r.email,
            method=r.method,
            channel=r.channel,
            type=r.review_type,
            reference=r.reference,
            language=r.language,
            origin=r.origin,
            created_at=r.created_at,
            created_by=r.created_by,
            created_by_name=r.created_by_name,
            due_at=r.scheduled_at,
            sent_at=r.sent_at,
            delivered_at=r.delivered_at,
            opened_at=r.opened_at,
            clicked_at=r.clicked_at,
            retries=r.retries,
            deleted=r.deleted_at is not None,
            waiting=sorted(waiting),
        )

    @classmethod
    def shown(cls, d: RequestDetail) -> RequestOut:
        """The request of a detail, with the statuses of its messages still waiting."""
        pending = {s.value for s in PENDING}
        return cls.of(d.request, frozenset(m.status for m in d.messages if m.status in pending))

    @classmethod
    def fresh(cls, r: ReviewRequest) -> RequestOut:
        """A request just created: its messages wait in its own status (queued or paused)."""
        pending = {s.value for s in PENDING}
        return cls.of(r, frozenset({r.status}) if r.status in pending else frozenset())

    @classmethod
    def listed(cls, row: ListedRequest) -> RequestOut:
        return cls.of(row.request, frozenset(s.value for s in row.waiting))


class EventOut(BaseModel):
    kind: str
    at: datetime
    actor: str


class RequestDetailOut(RequestOut):
    messages: list[MessageOut]
    events: list[EventOut]

    @classmethod
    def of_detail(cls, d: RequestDetail) -> RequestDetailOut:
        base = RequestOut.shown(d).model_dump()
        return cls(
            **base,
            messages=[MessageOut.of(m) for m in d.messages],
            events=[
                EventOut(kind=e.kind, at=e.at, actor=str(e.detail.get("actor_name") or e.actor))
                for e in d.events
            ],
        )


class RequestPage(BaseModel):
    data: list[RequestOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for older requests.")
    counts: dict[str, int] = Field(description="Matches per group: sent, opened, clicked, failed.")


class StatsOut(BaseModel):
    start: datetime
    end: datetime | None
    waiting: int
    overall: Tally
    by_channel: dict[str, Tally]
    by_sender: list[SenderTally]
    sms_sent: int
    sms_segments: int


class FieldError(BaseModel):
    field: str
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


Kind = Literal["pause", "resume", "cancel"]
