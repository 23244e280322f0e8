"""Block Kit for correcting a request before it goes out: the edit modal."""

from __future__ import annotations

from slack_sdk.models.blocks import CheckboxesElement, InputBlock, Option
from slack_sdk.models.views import View

from bot.usecases.history import ReviewRequest
from handlers.blocks.common import INPUT
from handlers.blocks.inputs import text_input
from handlers.blocks.limits import MAX_VIEW_TITLE
from handlers.text import clip

EDIT_MODAL = "edit_request"
OVERRIDE = "override"


def edit_modal(request: ReviewRequest, *, private_metadata: str) -> View:
    """Build the modal that corrects a request's name, contact and reference (full values:
    a modal is seen by the person who opened it only)."""

    blocks = [
        text_input(
            "name",
            "Customer name",
            request.customer_name,
            max_length=100,
            hint='Left empty: "customer".',
        ),
        text_input(
            "phone",
            "Phone",
            request.phone or "",
            max_length=40,
            hint="Any usual form; empty removes it.",
        ),
        text_input("email", "Email", request.email or "", max_length=320, hint="Empty removes it."),
        text_input(
            "reference",
            "Reference",
            request.reference or "",
            max_length=100,
            hint="Order or service number.",
        ),
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
