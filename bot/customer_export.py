"""One customer's data as JSON (data rights): contact, opt-outs, requests with their consent
record, messages with bodies, and events with the customer's replies.

The shape is versioned and documented in README ("Compliance"):

    {"format": "reviewops.customer.v1", "exported_at": ISO-8601, "workspace": TEAM_ID,
     "contact": {name, phone, email, language, created_at, phone_opted_out_at,
                 email_opted_out_at},
     "requests": [{...every request column..., "messages": [...], "events": [...]}],
     "request_count": N}

It is written as it is read (store.customer_data, a batch of requests at a time), so a
customer with thousands of requests costs one batch of memory. JSON is data: every value is
encoded by `json`, nothing is interpolated. Left out: tokens that would act for the customer
(a message's tracked-link and unsubscribe token, a dispatcher's claim) and Slack bookkeeping.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import IO, Any

from sqlmodel import SQLModel

from bot.domain.contacts import mask_contact
from bot.domain.errors import NotFound
from store import customer_data
from store.db import Database
from store.models import Contact

FORMAT = "reviewops.customer.v1"
LEFT_OUT = {
    "request": {"workspace_id", "slack_channel", "slack_ts"},
    "message": {"workspace_id", "token", "claim_token", "lease_until", "pace_key", "paced_at"},
    "event": {"workspace_id", "dedup_key", "request_id"},
}
CONTACT_FIELDS = (
    "name",
    "phone",
    "email",
    "language",
    "created_at",
    "phone_opted_out_at",
    "email_opted_out_at",
)
_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]+")


def _plain(row: SQLModel, left_out: set[str]) -> dict[str, Any]:
    return {k: v for k, v in row.model_dump().items() if k not in left_out}


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_iso)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def export_name(contact: Contact) -> str:
    """Name the file after the masked contact, with only characters safe in any file system."""
    masked = mask_contact(contact.phone, contact.email).replace("•", "x")
    safe = _UNSAFE.sub("-", masked).strip("-.")[:80] or str(contact.id)
    return f"customer-{safe}.json"


def masked_customer(contact: Contact) -> str:
    """The customer as the audit trail names them: masked, never in full."""
    return mask_contact(contact.phone, contact.email) or f"contact {contact.id}"


def read_contact(db: Database, workspace_id: int, contact_id: int) -> Contact:
    """:raise NotFound: no such customer in this workspace."""
    with db.read() as session:
        found = customer_data.contact(session, workspace_id, contact_id)
    if found is None:
        raise NotFound("That customer doesn't exist (any more).")
    return found


def write_customer_json(
    db: Database,
    workspace_id: int,
    contact_id: int,
    out: IO[bytes],
    *,
    now: datetime,
    batch: int = customer_data.BATCH,
) -> int:
    """Write everything held about one customer to `out`; return how many requests.

    :raise NotFound: no such customer in this workspace.
    """
    contact = read_contact(db, workspace_id, contact_id)
    with db.read() as session:
        team_id = customer_data.team_id(session, workspace_id)
    head = {
        "format": FORMAT,
        "exported_at": now,
        "workspace": team_id,
        "contact": {name: getattr(contact, name) for name in CONTACT_FIELDS},
    }
    out.write(_encode(head)[:-1].encode() + b', "requests": [')
    count = 0
    with db.read() as session:
        for found in customer_data.request_batches(session, workspace_id, contact_id, batch=batch):
            for request in found.requests:
                assert request.id is not None
                item = _plain(request, LEFT_OUT["request"])
                item["messages"] = [
                    _plain(m, LEFT_OUT["message"]) for m in found.messages[request.id]
                ]
                item["events"] = [_plain(e, LEFT_OUT["event"]) for e in found.events[request.id]]
                out.write((b",\n" if count else b"\n") + _encode(item).encode())
                count += 1
    out.write(f'\n], "request_count": {count}}}\n'.encode())
    return count
