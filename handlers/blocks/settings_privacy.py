"""Block Kit builders for the settings modal's "Customer data" section: the consent rule and
how long customer data is kept (pure, no I/O)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, InputBlock, RadioButtonsElement

from bot.domain.policy import MIN_RETENTION_DAYS, WorkspacePolicy
from handlers.blocks.common import INPUT, option
from handlers.blocks.inputs import number_input


def privacy_blocks(policy: WorkspacePolicy) -> list[Block]:
    """Whether each request needs the customer's agreement, and the retention in days."""
    consent = [
        option("On: the sender confirms the customer agreed to be contacted", "on"),
        option("Off", "off"),
    ]
    return [
        InputBlock(
            block_id="require_consent",
            label="Ask for the customer's consent",
            hint="On: every new request needs the sender's word that the customer agreed.",
            element=RadioButtonsElement(
                action_id=INPUT,
                options=consent,
                initial_option=consent[0] if policy.require_consent else consent[1],
            ),
        ),
        number_input(
            "retention_days",
            "Keep customer data (days)",
            str(policy.retention_days),
            low="0",
            high="3650",
            hint=(
                f"Older requests' names, numbers and addresses are erased every day; "
                f"at least {MIN_RETENTION_DAYS}, or 0 to keep them forever."
            ),
        ),
    ]
