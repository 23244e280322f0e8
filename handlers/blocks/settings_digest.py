"""The settings modal's digest section: how often, at what local time, in which channel."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, InputBlock, TimePickerElement

from bot.domain.policy import WorkspacePolicy
from handlers.blocks.common import INPUT
from handlers.blocks.inputs import channel_input, select_input

DIGEST_CHOICES = {
    "off": "Off",
    "daily": "Daily: the day before",
    "weekly": "Weekly, on Mondays: the week before",
}


def digest_blocks(policy: WorkspacePolicy) -> list[Block]:
    """The digest's frequency, time and channel, each named like its setting."""
    return [
        select_input(
            "digest",
            "Digest",
            DIGEST_CHOICES,
            policy.digest,
            hint="The funnel per channel, failures by reason and what waits, with a chart.",
        ),
        InputBlock(
            block_id="digest_time",
            label="Digest time",
            element=TimePickerElement(action_id=INPUT, initial_time=policy.digest_time),
            hint="In the workspace timezone.",
        ),
        channel_input(
            "digest_channel",
            "Digest channel",
            policy.digest_channel,
            "Where the digest is posted (else the notify channel). Invite the app there.",
        ),
    ]
