"""A CSV import's dry run: each row checked by the send form's rules, nothing written.

Every row becomes a `RequestCreate` (origin "import") and goes through the rules of
bot/usecases/planning.py, against the workspace's contacts, suppressions and recent requests
read in bulk (store/imports.py). What comes out says which rows will be sent and why the
others are skipped: invalid, a duplicate of an earlier row, within the cooldown, opted out,
erased.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlmodel import Session

from bot.domain import templating
from bot.domain.errors import InvalidInput
from bot.domain.import_file import ImportRow
from bot.domain.policy import WorkspacePolicy
from bot.domain.timing import parse_when
from bot.usecases.inputs import Method, RequestCreate
from bot.usecases.planning import Plan
from store import imports as import_store
from store.models import Contact, ReviewRequest
from store.suppressions import SuppressionKey

SkipKind = Literal["invalid", "duplicate", "cooldown", "opted_out", "erased"]
SKIP_KINDS: tuple[SkipKind, ...] = ("invalid", "duplicate", "cooldown", "opted_out", "erased")
# Rows without their own time are spread at this pace from the time asked for, so a big file
# is not one wave: the dispatcher still holds each back to its sender's own pace.
SPREAD_PER_SECOND = 10
OVERRIDE_HINT = " Send anyway to override it."  # the send form's: an import has no override
TYPE_WORDS = {"service": "service", "tjanst": "service", "tjänst": "service"} | {
    "product": "product",
    "produit": "product",
    "produkt": "product",
}


@dataclass(frozen=True)
class ImportOptions:
    """What the person chose for the whole file (the send form's method and time)."""

    method: Method | None = None  # None: the workspace's
    when: Literal["now", "delay"] = "delay"
    delay: timedelta | None = None  # None: the workspace's delay
    consent: bool = False  # the sender confirms the customers agreed to be contacted


@dataclass(frozen=True)
class ReadyRow:
    """A row that will become a request: what was typed, its plan, its known contact."""

    line: int
    data: RequestCreate
    plan: Plan
    contact_id: int | None  # None: a new contact
    email_free: bool  # no other contact has its email (it may be added to the known contact)
    segments: int  # of its SMS, 0 without one


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str
    name: str = ""


@dataclass
class ImportPlan:
    """The dry run: the rows to send, the skipped ones by kind, what the SMS will cost."""

    total: int
    ready: list[ReadyRow] = field(default_factory=list)
    skipped: dict[SkipKind, list[Skipped]] = field(
        default_factory=lambda: {kind: [] for kind in SKIP_KINDS}
    )
    segments: int = 0
    cost: Decimal = Decimal(0)
    currency: str = "EUR"

    @property
    def skipped_count(self) -> int:
        return sum(len(rows) for rows in self.skipped.values())

    def skip(self, kind: SkipKind, row: ImportRow, reason: str) -> None:
        self.skipped[kind].append(Skipped(row.line, reason, row.values.get("name", "")))


class Known:
    """A workspace's contacts, suppressions and recent requests for a file's addresses."""

    def __init__(
        self,
        session: Session,
        workspace_id: int,
        addresses: Sequence[tuple[str | None, str | None]],
        key: SuppressionKey,
        cooldown_since: datetime | None,
    ) -> None:
        """Read what is known of these (phone, email) pairs, in the caller's transaction."""
        phones = [phone for phone, _ in addresses if phone]
        emails = [email for _, email in addresses if email]
        self.phones = import_store.contacts_by_phone(session, workspace_id, phones)
        self.emails = import_store.contacts_by_email(session, workspace_id, emails)
        digests = {
            "phone": [key.digest("phone", p) for p in phones],
            "email": [key.digest("email", e) for e in emails],
        }
        self.suppressions = {
            kind: import_store.suppressed(session, workspace_id, kind, values)
            for kind, values in digests.items()
        }
        ids = [c.id for c in [*self.phones.values(), *self.emails.values()] if c.id]
        self.recent: dict[int, ReviewRequest] = (
            import_store.latest_requests(session, workspace_id, ids, cooldown_since)
            if cooldown_since is not None
            else {}
        )

    def by_phone(self, phone: str) -> Contact | None:
        return self.phones.get(phone)

    def by_email(self, email: str) -> Contact | None:
        return self.emails.get(email.lower())

    def suppressed_at(self, kind: str, digest: str) -> datetime | None:
        return self.suppressions.get(kind, {}).get(digest)

    def contact_of(self, plan: Plan) -> Contact | None:
        """The contact a request goes to: by phone, then email (creating.upsert_contact's order)."""
        found = self.by_phone(plan.phone) if plan.phone else None
        return found or (self.by_email(plan.email) if plan.email else None)


def row_input(
    row: ImportRow, options: ImportOptions, policy: WorkspacePolicy, now: datetime
) -> RequestCreate:
    """Build the request a row asks for, as the send form would.

    :raise InvalidInput: a field is wrong (too long, an unknown language or type, a bad time).
    """
    values = row.values
    kind = TYPE_WORDS.get(values.get("type", "service").strip().lower())
    if kind is None:
        raise InvalidInput(
            f"type: '{values['type'][:20]}' is neither service nor product.", field="type"
        )
    at = None
    if values.get("send_at"):
        at = parse_when(values["send_at"], now=now, tz=policy.timezone, field="send_at")
    return RequestCreate(
        name=values.get("name"),
        phone=values.get("phone"),
        email=values.get("email"),
        method=options.method,
        review_type=kind,  # type: ignore[arg-type]
        reference=values.get("reference"),
        when="at" if at is not None else options.when,
        at=at,
        delay=options.delay,
        language=values.get("language", "").lower() or None,
        origin="import",
        consent=options.consent,
    )


def sms_segments_of(plan: Plan, data: RequestCreate, policy: WorkspacePolicy, link: str) -> int:
    """Count the segments of the SMS this request sends first (0 if it sends none)."""
    if "sms" not in plan.channels:
        return 0
    context = {
        "name": plan.name,
        "business": policy.business_name or "us",
        "link": link,
        "reference": (data.reference or "").strip(),
    }
    try:
        text = templating.compose_sms(policy.sms_template or None, context, plan.language)
    except InvalidInput:
        return 0  # the workspace's text can't be used: the settings say so, not the import
    return templating.sms_segments(text).segments


def error_text(exc: InvalidInput) -> str:
    """One line for a row's refusal, naming its fields."""
    return " ".join(exc.errors.values()) if exc.errors else exc.message
