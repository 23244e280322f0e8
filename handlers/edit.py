"""Correct a request before it goes out: the row menu's "Edit" opens a modal; its submission
calls the edit use-case and shows each refused field on its own input."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import CheckboxesElement, InputBlock, Option, PlainTextInputElement
from slack_sdk.models.views import View

from bot.domain.errors import Conflict, DomainError
from bot.requests import RequestEdit
from handlers.blocks.common import INPUT, metadata, read_metadata, text_reply
from handlers.blocks.limits import MAX_VIEW_TITLE
from handlers.errors import field_errors
from handlers.modal_input import entered, tell
from handlers.surface import Surface, actor_of
from handlers.text import clip
from store.models import ReviewRequest

EDIT_MODAL = "edit_request"
EDIT_FIELDS = {"name": "name", "phone": "phone", "email": "email", "reference": "reference"}
OVERRIDE = "override"


def edit_modal(request: ReviewRequest, *, private_metadata: str) -> View:
    """Build the modal that corrects a request's name, contact and reference (full values:
    a modal is seen by the person who opened it only)."""

    def field(
        block_id: str, label: str, value: str | None, max_length: int, hint: str
    ) -> InputBlock:
        return InputBlock(
            block_id=block_id,
            label=label,
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, initial_value=value or None, max_length=max_length
            ),
            hint=hint,
        )

    blocks = [
        field("name", "Customer name", request.customer_name, 100, 'Left empty: "customer".'),
        field("phone", "Phone", request.phone, 40, "Any usual form; empty removes it."),
        field("email", "Email", request.email, 320, "Empty removes it."),
        field("reference", "Reference", request.reference, 100, "Order or service number."),
        InputBlock(
            block_id=OVERRIDE,
            label="Cooldown",
            optional=True,
            element=CheckboxesElement(
                action_id=INPUT,
                options=[
                    Option(
                        text="Change it even if this customer was invited recently", value=OVERRIDE
                    )
                ],
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=EDIT_MODAL,
        title=clip(f"Edit #{request.number}", MAX_VIEW_TITLE),
        submit="Save",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=blocks,
    )


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


def register(bolt: App, surface: Surface) -> None:
    """Listen to the edit modal's submission."""

    @bolt.view(EDIT_MODAL)
    def edit_submitted(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
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
        try:
            surface.ops.edit(surface.workspace_id(context), number, data, actor_of(body))
        except Conflict as exc:
            warning = f"{exc.message} Tick the box to change it anyway."
            ack(response_action="errors", errors={OVERRIDE: warning})
            return
        except DomainError as exc:
            ack(response_action="errors", errors=field_errors(exc, EDIT_FIELDS, "name"))
            return
        ack()
        tell(client, meta, actor_of(body).id, text_reply(f":pencil2: #{number} saved."))

    surface.registered.views.append(EDIT_MODAL)
