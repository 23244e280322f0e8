"""Block Kit for correcting a request before it goes out: the edit modal."""

from __future__ import annotations

from slack_sdk.models.blocks import CheckboxesElement, InputBlock, Option, PlainTextInputElement
from slack_sdk.models.views import View

from bot.usecases.history import ReviewRequest
from handlers.blocks.common import INPUT
from handlers.blocks.limits import MAX_VIEW_TITLE
from handlers.text import clip

EDIT_MODAL = "edit_request"
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
