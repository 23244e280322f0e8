"""SQLModel tables of the integrations: API keys and their idempotent answers, order
triggers, outbound event webhooks, digests posted, CSV imports (the request's own tables
are in store/models.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.models import ERROR_TEXT_MAX, FILE_NAME_MAX, REFERENCE_MAX, SLACK_ID_MAX, _dt
from store.types import UTCDateTime

API_KEY_NAME_MAX = 60
IDEMPOTENCY_KEY_MAX = 100  # Stripe's own maximum is 255; UUIDs are 36
PROVIDER_ID_MAX = 100  # a shop's id of an event or an order (Shopify, Stripe)


class ApiKey(SQLModel, table=True):
    """A workspace's key to the REST API: only the SHA-256 of its secret is kept (0012)."""

    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_ws", "workspace_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    name: str = Field(max_length=API_KEY_NAME_MAX)
    # The secret's first characters ("rvo_AbCd"), shown in lists so people can tell keys apart.
    prefix: str = Field(max_length=16)
    secret_hash: str = Field(max_length=64, unique=True)  # hex SHA-256 of the whole secret
    created_by: str = Field(max_length=64)
    created_by_name: str = Field(default="", max_length=100)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Updated at most once a minute per key (bot/usecases/api_keys.py), not on every call.
    last_used_at: datetime | None = _dt()
    revoked_at: datetime | None = _dt()
    revoked_by: str | None = Field(default=None, max_length=64)


class ApiIdempotency(SQLModel, table=True):
    """The first answer to a POST with an Idempotency-Key, per API key, kept a day (0012)."""

    __tablename__ = "api_idempotency"
    __table_args__ = (
        UniqueConstraint("api_key_id", "key", name="uq_api_idempotency"),
        Index("ix_api_idempotency_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_key.id", ondelete="CASCADE")
    key: str = Field(max_length=IDEMPOTENCY_KEY_MAX)
    body_hash: str = Field(max_length=64)  # hex SHA-256 of the request body, canonical JSON
    status_code: int
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TriggerEvent(SQLModel, table=True):
    """A shop's order event (Shopify, Stripe) and what it did; its key takes a delivery once."""

    __tablename__ = "trigger_event"
    __table_args__ = (
        UniqueConstraint("workspace_id", "source", "event_id", name="uq_trigger_event"),
        Index("ix_trigger_event_ws_at", "workspace_id", "received_at", "id"),
        Index("ix_trigger_event_at", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    source: str = Field(max_length=16)  # shopify, stripe
    event_id: str = Field(max_length=PROVIDER_ID_MAX)
    kind: str = Field(max_length=16)  # paid, refunded
    reference: str | None = Field(default=None, max_length=REFERENCE_MAX)
    outcome: str = Field(max_length=16)  # pending, created, skipped, canceled, nothing
    reason: str | None = Field(default=None, max_length=ERROR_TEXT_MAX)
    numbers: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    settled_at: datetime | None = _dt()


class TriggerOrder(SQLModel, table=True):
    """A shop's id of an order (order, payment intent, invoice) and the reference it was given."""

    __tablename__ = "trigger_order"
    __table_args__ = (
        UniqueConstraint("workspace_id", "source", "order_key", name="uq_trigger_order"),
        Index("ix_trigger_order_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    source: str = Field(max_length=16)
    order_key: str = Field(max_length=PROVIDER_ID_MAX)
    reference: str = Field(max_length=REFERENCE_MAX)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EventOutbox(SQLModel, table=True):
    """Outbound events (signed webhooks to a workspace's URL), in order per workspace (0014)."""

    __tablename__ = "event_outbox"
    __table_args__ = (
        Index("ix_event_outbox_ws_status_id", "workspace_id", "status", "id"),
        Index("ix_event_outbox_request", "request_id"),
    )

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
    event_id: str = Field(max_length=40, unique=True)  # the webhook-id header: de-duplication
    type: str = Field(max_length=40)  # request.sent, ...
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending, done, dropped
    attempts: int = 0
    # Due time, and while a worker holds the row, the end of its lease (the lease's token).
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    done_at: datetime | None = _dt()
    last_error: str | None = Field(default=None, max_length=ERROR_TEXT_MAX)


class DigestPost(SQLModel, table=True):
    """A digest period taken by one scheduler process, and whether it reached Slack (0015).

    The row is inserted first, in its own transaction (the primary key refuses a second), so
    two scheduler processes post a period's digest once between them.
    """

    __tablename__ = "digest_post"

    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE", primary_key=True)
    period: str = Field(max_length=32, primary_key=True)  # "daily:2026-11-22"
    claimed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    posted_at: datetime | None = _dt()
    file_id: str | None = Field(default=None, max_length=SLACK_ID_MAX)
    channel: str | None = Field(default=None, max_length=SLACK_ID_MAX)


class ImportBatch(SQLModel, table=True):
    """One confirmed CSV import: its requests carry its id (migration 0016)."""

    __tablename__ = "import_batch"
    __table_args__ = (Index("ix_import_ws_created", "workspace_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    file_name: str = Field(default="", max_length=FILE_NAME_MAX)
    rows: int = 0  # rows in the file
    created: int = 0  # requests created so far
    created_by: str = Field(max_length=64)
    created_by_name: str = Field(default="", max_length=100)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    state: str = Field(default="importing", max_length=16)  # importing, done, canceled, failed
