"""Input blocks of the settings modal: text, select, number and channel fields."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import (
    CheckboxesElement,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    NumberInputElement,
    PlainTextInputElement,
    StaticSelectElement,
)

from bot.domain.channels import METHOD_LABELS
from handlers.blocks.common import INPUT, option


def text_input(
    block_id: str,
    label: str,
    value: str,
    *,
    hint: str | None = None,
    placeholder: str | None = None,
    multiline: bool = False,
    max_length: int | None = None,
    optional: bool = True,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        hint=hint,
        element=PlainTextInputElement(
            action_id=INPUT,
            initial_value=value or None,
            placeholder=placeholder,
            multiline=multiline,
            max_length=max_length,
        ),
    )


def select_input(
    block_id: str, label: str, choices: Mapping[str, str], current: str, *, hint: str | None = None
) -> InputBlock:
    options = [option(text, value) for value, text in choices.items()]
    initial = next((o for o in options if o.value == current), options[0])
    return InputBlock(
        block_id=block_id,
        label=label,
        hint=hint,
        element=StaticSelectElement(action_id=INPUT, options=options, initial_option=initial),
    )


def number_input(
    block_id: str,
    label: str,
    value: str,
    *,
    low: str,
    high: str,
    decimal: bool = False,
    hint: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        hint=hint,
        element=NumberInputElement(
            action_id=INPUT,
            is_decimal_allowed=decimal,
            initial_value=value,
            min_value=low,
            max_value=high,
        ),
    )


def channel_input(block_id: str, label: str, current: str, hint: str) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        hint=hint,
        element=ConversationSelectElement(
            action_id=INPUT,
            placeholder="No channel",
            initial_conversation=current or None,
            filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
        ),
    )


def consent_input(agreement: str) -> InputBlock:
    """The required consent box of a form that contacts customers (require_consent is on):
    Slack won't submit the form without it, and creating.py checks it again."""
    return InputBlock(
        block_id="consent",
        label="Consent",
        element=CheckboxesElement(action_id=INPUT, options=[option(agreement, "consent")]),
        hint="This workspace asks for it before any customer is contacted.",
    )


def method_input(current: str) -> InputBlock:
    """The "Send via" menu of a form that sends (send, import), on the workspace's method."""
    methods = [option(text, value) for value, text in METHOD_LABELS.items()]
    return InputBlock(
        block_id="method",
        label="Send via",
        element=StaticSelectElement(
            action_id=INPUT,
            options=methods,
            initial_option=next(o for o in methods if o.value == current),
        ),
    )
