"""SQLModel tables. Table models skip validation: input is validated before it gets here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from store.types import UTCDateTime

# Column sizes of what people type. The input model (bot/usecases/inputs.py) refuses longer
# values with these same numbers, so a value that passes it always fits its column.
CUSTOMER_NAME_MAX = 100
PHONE_MAX = 20  # E.164: "+" and at most 15 digits
EMAIL_MAX = 320  # RFC 3696: 64 + "@" + 255
LANGUAGE_MAX = 8
REFERENCE_MAX = 100
SLACK_ID_MAX = 32  # channel ids, ts
SUBJECT_MAX = 300  # an email subject as rendered, with the customer's name in it
ERROR_TEXT_MAX = 500  # a provider's, mail server's or our own reason for a failure


def _dt(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Workspace(SQLModel, table=True):
    __tablename__ = "workspace"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, unique=True)
    name: str = Field(default="", max_length=200)
    # Validated by bot.domain.policy.WorkspacePolicy before it is written.
    policy: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    next_number: int = Field(default=1)
    bot_token: str | None = Field(default=None, max_length=255)
    bot_user_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("workspace_id", "phone", name="uq_contact_phone"),
        UniqueConstraint("workspace_id", "email", name="uq_contact_email"),
        # One contact per address in any case (store.contacts matches so; migration 0004).
        Index("uq_contact_email_folded", "workspace_id", text("lower(email)"), unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    name: str = Field(default="customer", max_length=CUSTOMER_NAME_MAX)
    phone: str | None = Field(default=None, max_length=PHONE_MAX)
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    language: str = Field(default="en", max_length=LANGUAGE_MAX)
    # STOP opts a number out of SMS and WhatsApp; unsubscribe or a complaint opts out email.
    phone_opted_out_at: datetime | None = _dt()
    email_opted_out_at: datetime | None = _dt()
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


FILE_NAME_MAX = 200


class ReviewRequest(SQLModel, table=True):
    __tablename__ = "review_request"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number", name="uq_request_number"),
        # History listing: newest first, keyset on (created_at, id).
        Index("ix_request_ws_created", "workspace_id", "created_at", "id"),
        Index("ix_request_ws_status_created", "workspace_id", "status", "created_at", "id"),
        Index("ix_request_ws_contact", "workspace_id", "contact_id"),
        Index("ix_request_ws_reference", "workspace_id", "reference", "created_at", "id"),
        Index("ix_request_ws_creator_created", "workspace_id", "created_by", "created_at", "id"),
        Index("ix_request_ws_channel_created", "workspace_id", "channel", "created_at", "id"),
        Index("ix_request_ws_sent", "workspace_id", "sent_at", "id"),
        Index("ix_request_ws_import", "workspace_id", "import_id", "id"),
        Index("ix_request_phone", "phone", postgresql_ops={"phone": "text_pattern_ops"}),
        # Free text: PostgreSQL trigram indexes (migration 0002); SQLite searches the FTS5
        # table review_request_fts instead, which the migration creates with its triggers.
        *(
            Index(
                f"ix_request_{short}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            ).ddl_if(dialect="postgresql")
            for short, column in (("name", "customer_name"), ("email", "email"), ("phone", "phone"))
        ),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    number: int
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    customer_name: str = Field(max_length=CUSTOMER_NAME_MAX)
    phone: str | None = Field(default=None, max_length=PHONE_MAX)
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    language: str = Field(default="en", max_length=LANGUAGE_MAX)
    method: str = Field(max_length=16)  # sms, whatsapp, email, sms_or_email, sms_and_email
    channel: str = Field(max_length=16)  # what it went out by: sms, whatsapp, email, sms+email
    review_type: str = Field(default="service", max_length=16)
    reference: str | None = Field(default=None, max_length=REFERENCE_MAX)
    status: str = Field(max_length=16)  # derived from the messages, kept here for filtering
    created_by: str = Field(max_length=64)
    created_by_name: str = Field(default="", max_length=100)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    scheduled_at: datetime | None = _dt()
    sent_at: datetime | None = _dt()
    delivered_at: datetime | None = _dt()
    opened_at: datetime | None = _dt()
    clicked_at: datetime | None = _dt()
    retries: int = 0  # reminders actually sent
    last_error: str | None = Field(default=None, max_length=ERROR_TEXT_MAX)
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    origin_channel: str | None = Field(default=None, max_length=SLACK_ID_MAX)
    deleted_at: datetime | None = _dt()
    # How it was asked for (slack, cli, api, import, order: bot.usecases.audit.ORIGINS) and,
    # when the sender confirmed the customer agreed to be contacted, when and by whom (0011).
    origin: str | None = Field(default=None, max_length=16)
    consent_at: datetime | None = _dt()
    consent_by: str | None = Field(default=None, max_length=64)

    # The CSV import it came from (migration 0016): `import:ID` in the list, cancel it whole.
    import_id: int | None = Field(default=None, foreign_key="import_batch.id")

    # Its personal data erased by the retention job, the row kept so that the counts over its
    # period still add up (migration 0010). A deleted request is erased too, and hidden.
    erased_at: datetime | None = _dt()


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        # The dispatcher's claim: due queued rows, oldest first.
        Index("ix_message_status_due", "status", "due_at"),
        Index("ix_message_request", "request_id", "id"),
        Index("ix_message_provider_id", "provider_id"),
        Index("ix_message_to_status", "workspace_id", "to_address", "status"),
        # A customer's text back: the messages to that number through that sender (0008).
        Index("ix_message_to_sender", "to_address", "pace_key"),
        # What waits behind each sender's pace (metrics, `show`): migration 0005.
        Index("ix_message_pace", "pace_key", "paced_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    request_id: int = Field(foreign_key="review_request.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)  # initial, reminder, fallback, resend
    channel: str = Field(max_length=16)  # sms, whatsapp, email
    to_address: str = Field(max_length=EMAIL_MAX)
    status: str = Field(max_length=16)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    token: str = Field(max_length=64, unique=True)  # tracked link, pixel and unsubscribe
    claim_token: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _dt()
    attempts: int = 0  # transient provider refusals (RETRY), not sends
    sent_at: datetime | None = _dt()
    delivered_at: datetime | None = _dt()
    read_at: datetime | None = _dt()
    opened_at: datetime | None = _dt()
    clicked_at: datetime | None = _dt()
    failed_at: datetime | None = _dt()
    provider: str | None = Field(default=None, max_length=16)
    provider_id: str | None = Field(default=None, max_length=255)
    error_code: str | None = Field(default=None, max_length=32)
    error_reason: str | None = Field(default=None, max_length=ERROR_TEXT_MAX)
    subject: str | None = Field(default=None, max_length=SUBJECT_MAX)
    body: str | None = None
    # An SMS's segments, counted from its body when it goes to `sending` (migration 0009): the
    # period stats sum them in SQL. None for other channels and SMS sent before 0009.
    segments: int | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The provider sender it goes out through (bot.domain.pacing), and the slot it reserved
    # there while it waits for it; cleared when it goes.
    pace_key: str | None = Field(default=None, max_length=120)
    paced_at: datetime | None = _dt()


class Event(SQLModel, table=True):
    """Append-only: every change to a request, by whom and when."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_request", "request_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    request_id: int | None = Field(
        default=None, foreign_key="review_request.id", ondelete="SET NULL"
    )
    message_id: int | None = Field(default=None, foreign_key="message.id", ondelete="SET NULL")
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=100)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Provider callbacks and replays carry a key; a second copy is refused by the index.
    dedup_key: str | None = Field(default=None, max_length=200, unique=True)


class SlackOutbox(SQLModel, table=True):
    """Slack posts waiting to go out, in order, paced per channel and retried."""

    __tablename__ = "slack_outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    request_id: int | None = Field(
        default=None, foreign_key="review_request.id", ondelete="SET NULL"
    )
    kind: str = Field(max_length=16)  # root, reply, update, alert, dm
    channel: str | None = Field(default=None, max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending, done, dead
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    done_at: datetime | None = _dt()
    last_error: str | None = Field(default=None, max_length=ERROR_TEXT_MAX)


class SenderPace(SQLModel, table=True):
    """One provider sender's pace, shared by every worker: its next free slot and its rate."""

    __tablename__ = "sender_pace"

    key: str = Field(primary_key=True, max_length=120)  # +15551234567, MG..., smtp:HOST
    # Messages (SMS: segments) per second now: below the configured rate after a 429.
    rate: float
    next_free_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The last slow-down or recovery step; None when back at the configured rate.
    slowed_at: datetime | None = _dt()
    throttled: int = 0  # provider 429s so far
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookInbox(SQLModel, table=True):
    """Verified provider reports, stored before the answer and applied after it (in order)."""

    __tablename__ = "webhook_inbox"
    # The appliers' query: not yet applied, oldest first; applied rows are purged by age.
    __table_args__ = (Index("ix_inbox_pending", "applied_at", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    source: str = Field(max_length=32)  # twilio_status
    # Only the fields the applier reads, each cut to a bounded length by the route.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Taken by one applier until then; a process that died holding it gives it back so.
    lease_until: datetime | None = _dt()
    attempts: int = 0
    applied_at: datetime | None = _dt()
    result: str | None = Field(default=None, max_length=16)  # applied, duplicate, ..., error


class OAuthState(SQLModel, table=True):
    """An OAuth `state` already used once: the key refuses it a second time (migration 0008)."""

    __tablename__ = "oauth_state"

    state: str = Field(primary_key=True, max_length=64)  # the random part of a signed state
    used_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class CreationKey(SQLModel, table=True):
    """The Slack delivery a request was created from, so a second delivery creates nothing.

    A key is taken first thing in the creating transaction (unique per workspace), so two
    workers given the same delivery create one request between them; purged after a day.
    """

    __tablename__ = "creation_key"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key", name="uq_creation_key"),
        Index("ix_creation_key_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    key: str = Field(max_length=200)
    # Set in the transaction that took the key, once its request has an id.
    request_id: int | None = Field(
        default=None, foreign_key="review_request.id", ondelete="CASCADE"
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Audit(SQLModel, table=True):
    """Append-only: every admin action and decision, by whom, when and from where (0011)."""

    __tablename__ = "audit"
    # `/reviews audit` and `reviewops audit`: a workspace's newest first, keyset on (at, id).
    __table_args__ = (Index("ix_audit_ws_at", "workspace_id", "at", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(default="", max_length=100)
    origin: str = Field(max_length=16)  # slack, cli, api, system
    action: str = Field(max_length=40)
    target: str = Field(default="", max_length=200)  # "#42", a masked customer, a setting
    # Old and new values, counts; secrets masked before they get here (bot.usecases.audit).
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Suppression(SQLModel, table=True):
    """An erased customer's opted-out address, kept only as a keyed hash (migration 0010).

    So an erased customer who had opted out is never contacted again, without keeping the
    address: `digest` is HMAC-SHA256 of the E.164 phone or the folded email (store/suppressions.py).
    """

    __tablename__ = "suppression"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "digest", name="uq_suppression_digest"),
        Index("ix_suppression_digest", "digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    kind: str = Field(max_length=8)  # phone, email
    digest: str = Field(max_length=64)  # hex HMAC-SHA256
    opted_out_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    erased_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The senders (our numbers, messaging services, "console") the phone was texted through:
    # a START to one of them lifts it, as it would have lifted the contact's opt-out.
    senders: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


# The integrations' tables (review_request.import_id names one) are on the metadata whenever
# these are. Imported last: that module imports the names above.
import store.integration_models  # noqa: E402,F401
