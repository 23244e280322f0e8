"""Block Kit for asking for a review: the send modal, its confirmation, the reschedule modal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    DateTimePickerElement,
    InputBlock,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.policy import WorkspacePolicy
from bot.domain.send_time import asked_time, why_request_later
from bot.usecases.history import ReviewRequest
from bot.usecases.inputs import RequestCreate
from handlers.blocks.common import INPUT, Reply, option, text_reply
from handlers.blocks.inputs import consent_input, method_input
from handlers.blocks.limits import (
    MAX_VIEW_TITLE,
)
from handlers.text import (
    LANGUAGE_LABELS,
    TYPE_LABELS,
    channel_label,
    clip,
    escape,
    slack_date,
)

SEND_MODAL = "send_request"
RESCHEDULE_MODAL = "reschedule_request"

WHEN_LABELS = {
    "now": "Now",
    "delay": "After the usual delay",
    "at": "At a date and time",
}


CONSENT_TEXT = "The customer agreed to be contacted"


def send_modal(policy: WorkspacePolicy, *, private_metadata: str = "") -> View:
    """Build the "Ask for a review" modal, defaulting to the workspace's method and language."""
    delay = "none" if policy.delay == "0" else policy.delay
    when_options = [
        option(WHEN_LABELS["now"], "now"),
        option(f"{WHEN_LABELS['delay']} ({delay})", "delay"),
        option(WHEN_LABELS["at"], "at"),
    ]
    types = [option(text, value) for value, text in TYPE_LABELS.items()]
    languages = [option(text, value) for value, text in LANGUAGE_LABELS.items()]
    override = option("Send even if invited recently", "override")
    blocks: list[Block] = [
        InputBlock(
            block_id="name",
            label="Customer name",
            optional=True,
            element=PlainTextInputElement(action_id=INPUT, max_length=100),
            hint='Left empty, the message says "customer".',
        ),
        InputBlock(
            block_id="phone",
            label="Phone",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, placeholder="+33 6 10 20 30 40", max_length=40
            ),
            hint=f"Without a country code, read as a {policy.region} number.",
        ),
        InputBlock(
            block_id="email",
            label="Email",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, placeholder="jane@example.com", max_length=320
            ),
        ),
        method_input(policy.method),
        InputBlock(
            block_id="review_type",
            label="Review type",
            element=RadioButtonsElement(action_id=INPUT, options=types, initial_option=types[0]),
        ),
        InputBlock(
            block_id="reference",
            label="Reference",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, placeholder="Order or service number", max_length=100
            ),
        ),
        InputBlock(
            block_id="when",
            label="When",
            element=RadioButtonsElement(
                action_id=INPUT, options=when_options, initial_option=when_options[1]
            ),
            hint=f"Always inside the send window ({policy.send_window}, {policy.timezone}).",
        ),
        InputBlock(
            block_id="at",
            label="Date and time",
            optional=True,
            element=DateTimePickerElement(action_id=INPUT),
            hint='Only for "At a date and time"; in your own timezone.',
        ),
        when_text_block(policy.timezone),
        InputBlock(
            block_id="language",
            label="Language",
            element=StaticSelectElement(
                action_id=INPUT,
                options=languages,
                initial_option=next(o for o in languages if o.value == policy.language),
            ),
        ),
        InputBlock(
            block_id="override",
            label="Cooldown",
            optional=True,
            element=CheckboxesElement(action_id=INPUT, options=[override]),
            hint=f"Customers invited in the last {policy.cooldown_days} days are skipped otherwise.",
        ),
    ]
    if policy.require_consent:
        blocks.append(consent_input(CONSENT_TEXT))
    return View(
        type="modal",
        callback_id=SEND_MODAL,
        title="Ask for a review",
        submit="Send",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=blocks,
    )


def created_why(data: RequestCreate, request: ReviewRequest, policy: WorkspacePolicy) -> list[str]:
    """Say why a new request goes later than asked: the send window, a holiday, the
    recipient's hours (the domain's words, as `reviewops send` says them)."""
    asked = asked_time(data.when, data.at, data.delay, policy, request.created_at)
    return why_request_later(asked, policy, request.channel, request.phone)


def created_reply(request: ReviewRequest, *, tz: str = "UTC", why: Sequence[str] = ()) -> Reply:
    """Confirm a new request to the person who asked (full contact: this is ephemeral)."""
    contact = " / ".join(x for x in (request.phone, request.email) if x)
    when = (
        f"goes out {slack_date(request.scheduled_at, tz=tz)}"
        if request.scheduled_at is not None
        else "queued"
    )
    if why and request.scheduled_at is not None:
        when += f" ({escape('; '.join(why))})"
    text = (
        f":white_check_mark: *#{request.number}* created for *{escape(request.customer_name)}* "
        f"({escape(contact)}) by {channel_label(request.channel)}, {when}."
    )
    if request.reference:
        text += f" Reference {escape(request.reference)}."
    return text_reply(text)


# --- the reschedule modal ---------------------------------------------------------------------


def when_text_block(timezone: str) -> InputBlock:
    """The "or type it" field: in 2h, tomorrow 10:00, a date and time in the workspace timezone."""
    return InputBlock(
        block_id="at_text",
        label="Or type when",
        optional=True,
        element=PlainTextInputElement(
            action_id=INPUT, placeholder="in 2h · tomorrow 10:00 · 2026-12-01 10:00", max_length=40
        ),
        hint=f"In the workspace timezone ({timezone}).",
    )


def reschedule_modal(
    number: int, current: datetime | None, *, private_metadata: str, timezone: str = "UTC"
) -> View:
    """Build the small modal that moves a request's waiting messages to a new time."""
    picker = DateTimePickerElement(
        action_id=INPUT,
        initial_date_time=int(current.timestamp()) if current is not None else None,
    )
    return View(
        type="modal",
        callback_id=RESCHEDULE_MODAL,
        title=clip(f"Reschedule #{number}", MAX_VIEW_TITLE),
        submit="Reschedule",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=[
            InputBlock(
                block_id="at",
                label="New date and time",
                optional=True,
                element=picker,
                hint="In your own timezone; moved into the send window if it falls outside.",
            ),
            when_text_block(timezone),
        ],
    )
