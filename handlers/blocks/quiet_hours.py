"""The settings modal's field for the recipient's quiet hours (its own module: the modal's
builder is at its size limit)."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock

from bot.domain.policy import WorkspacePolicy
from bot.domain.quiet_hours import DEFAULT_QUIET_HOURS
from handlers.blocks.inputs import text_input


def quiet_hours_input(policy: WorkspacePolicy) -> InputBlock:
    """Texts (SMS, WhatsApp) reach a customer only in these local hours; required, since the
    law's hours are the loosest allowed and an empty field would mean none."""
    return text_input(
        "quiet_hours",
        "Texts reach customers only between",
        policy.quiet_hours,
        placeholder=DEFAULT_QUIET_HOURS,
        max_length=11,
        optional=False,
        hint=(
            f"In the customer's local time, from their number: {DEFAULT_QUIET_HOURS} "
            "(the law's, US TCPA) or stricter. Emails are not held."
        ),
    )
