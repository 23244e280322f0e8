"""Correct a request before it goes out: the row menu's "Edit" opens a modal; its submission
calls the edit use-case and shows each refused field on its own input."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import Conflict, DomainError
from bot.usecases.inputs import RequestEdit
from handlers.blocks.common import metadata, read_metadata, text_reply
from handlers.blocks.edit import EDIT_MODAL, OVERRIDE, edit_modal
from handlers.errors import field_errors, field_refusals
from handlers.modal_input import entered, tell
from handlers.surface import Registered, Surface, actor_of, services

EDIT_FIELDS = {"name": "name", "phone": "phone", "email": "email", "reference": "reference"}


def open_edit(
    surface: Surface,
    client: WebClient,
    workspace_id: int,
    number: int,
    *,
    trigger_id: str,
    response_url: str | None,
    channel_id: str | None,
) -> None:
    """Open the edit modal for a request, from a click that carries a trigger id.

    :raise NotAllowed: the request can no longer be edited (said before anything opens).
    """
    request = surface.ops.editable(workspace_id, number)
    meta = metadata(n=number, r=response_url, c=channel_id)
    client.views_open(trigger_id=trigger_id, view=edit_modal(request, private_metadata=meta))


def _edit_refusal(exc: DomainError, body: dict[str, Any]) -> dict[str, str]:
    if isinstance(exc, Conflict):
        return {OVERRIDE: f"{exc.message} Tick the box to change it anyway."}
    return field_errors(exc, EDIT_FIELDS, "name")


@field_refusals(_edit_refusal)
def edit_submitted(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Save the corrections; show each refused field on its own input."""
    surface = services(context)
    view = body["view"]
    values = view["state"]["values"]
    meta = read_metadata(view.get("private_metadata"))
    number = int(meta.get("n", 0))
    data = RequestEdit(
        name=entered(values, "name") or "",
        phone=entered(values, "phone") or "",
        email=entered(values, "email") or "",
        reference=entered(values, "reference") or "",
        override_cooldown=OVERRIDE in (entered(values, OVERRIDE) or []),
    )
    surface.ops.edit(surface.workspace_id(context), number, data, actor_of(body))
    ack()
    tell(client, meta, actor_of(body).id, text_reply(f":pencil2: #{number} saved."))


def register(bolt: App, registered: Registered) -> None:
    """Listen to the edit modal's submission."""
    bolt.view(EDIT_MODAL)(edit_submitted)
    registered.views.append(EDIT_MODAL)
