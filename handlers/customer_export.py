"""The customer view's "Export data" button: everything held about them, as a JSON file in
the admin's direct messages (bot/customer_export.py writes it; handlers/export.py uploads)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.customer_export import export_name, masked_customer, read_contact, write_customer_json
from bot.domain.errors import InvalidInput
from bot.slack_files import upload_file
from handlers.blocks.common import text_reply
from handlers.blocks.customer import CUSTOMER_EXPORT
from handlers.errors import below, refusals
from handlers.permissions import refusal
from handlers.surface import Registered, actor_of, first_action, services

log = logging.getLogger(__name__)
REFUSAL_WHAT = "export a customer's data"


def _contact_id(body: dict[str, Any]) -> int:
    value = str(first_action(body).get("value", ""))
    if not value.isdigit():
        raise InvalidInput("That button can't be read any more: show the customer again.")
    return int(value)


@refusals(below)
def export_customer(
    body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Post the customer's JSON to the admin who pressed the button; refuse anyone else."""
    surface = services(context)
    actor = actor_of(body)
    ws = surface.workspace_id(context)
    if not surface.is_admin(client, context, actor.id):
        respond(replace_original=False, **text_reply(refusal(REFUSAL_WHAT)).as_kwargs())
        return
    contact = read_contact(surface.app.db, ws, _contact_id(body))
    assert contact.id is not None
    dm = str(client.conversations_open(users=actor.id)["channel"]["id"])
    with tempfile.TemporaryDirectory(prefix="reviewops-customer-") as folder:
        path = Path(folder) / export_name(contact)
        with path.open("wb") as out:
            count = write_customer_json(
                surface.app.db, ws, contact.id, out, now=surface.app.clock.now()
            )
        who = masked_customer(contact)
        upload_file(
            client,
            channel=dm,
            path=path,
            title=f"Customer data: {who}",
            initial_comment=f"Everything held about {who}: {count:,} requests (JSON).",
        )
    surface.ops.audit.note(
        ws, actor, "customer_export", target=masked_customer(contact), detail={"requests": count}
    )
    log.info("customer %d of workspace %d exported for %s", contact.id, ws, actor.id)
    reply = text_reply(":page_facing_up: Sent you their data as a JSON file in a direct message.")
    respond(replace_original=False, **reply.as_kwargs())


def register(bolt: App, registered: Registered) -> None:
    """Listen to the customer view's Export data button."""
    bolt.action(CUSTOMER_EXPORT)(export_customer)
    registered.actions.append(CUSTOMER_EXPORT)
