"""Pure Block Kit builders for the workspace settings modal (no I/O).

Every setting of the workspace policy is its own input block, whose block_id the submission
listener maps policy errors back to. Sections are separated by headers; the whole modal stays
well under Slack's 100 blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import time
from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    RadioButtonsElement,
    SectionBlock,
    TimePickerElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.channels import METHOD_LABELS
from bot.domain.policy import WorkspacePolicy
from bot.domain.window import DAY_NAMES, parse_window
from handlers.blocks.common import INPUT, option
from handlers.blocks.inputs import channel_input, number_input, select_input, text_input
from handlers.blocks.limits import MAX_TEXT
from handlers.blocks.quiet_hours import quiet_hours_input
from handlers.blocks.settings_digest import digest_blocks
from handlers.blocks.settings_events import events_blocks
from handlers.blocks.settings_messages import (
    email_blocks,
    landing_blocks,
    sms_blocks,
)
from handlers.blocks.settings_privacy import privacy_blocks
from handlers.blocks.settings_triggers import trigger_blocks
from handlers.blocks.sms_estimate import (
    SmsEstimate,
)
from handlers.text import LANGUAGE_LABELS

SETTINGS_MODAL = "workspace_settings"

DAY_LABELS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
# Values as the policy writes delays back (7 days is "1w").
DELAY_CHOICES = {"0": "Immediately", "1h": "1 hour", "1d": "1 day", "1w": "7 days"}
CUSTOM_DELAY = "custom"
REMINDER_CHANNELS = {
    "auto": "Automatic (email for SMS and email, else the same)",
    "email": "Email",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
}


def _window_times(policy: WorkspacePolicy) -> tuple[list[str], str, str]:
    window = parse_window(policy.send_window)
    if window.always:
        return list(DAY_NAMES), "00:00", "00:00"
    end = "00:00" if window.end == time.max else f"{window.end:%H:%M}"
    return [DAY_NAMES[d] for d in sorted(window.days)], f"{window.start:%H:%M}", end


def _business_blocks(policy: WorkspacePolicy) -> list[Block]:
    """The business: name, timezone, phone region, language."""
    return [
        text_input("business_name", "Business name", policy.business_name, max_length=80),
        text_input(
            "timezone",
            "Timezone",
            policy.timezone,
            optional=False,
            placeholder="Europe/Paris",
            hint="An IANA name, like Europe/Paris or America/New_York.",
        ),
        text_input(
            "region",
            "Default phone region",
            policy.region,
            optional=False,
            max_length=2,
            hint="For numbers written without a country code: FR, US, SE...",
        ),
        select_input(
            "language",
            "Default language",
            LANGUAGE_LABELS,
            policy.language,
            hint="Used when a request doesn't set the contact's language.",
        ),
    ]


def _window_blocks(policy: WorkspacePolicy) -> list[Block]:
    """When requests may go out: days, hours, public holidays."""
    days, start, end = _window_times(policy)
    day_options = [option(DAY_LABELS[d], d) for d in DAY_NAMES]
    holidays = policy.holidays or ""
    return [
        InputBlock(
            block_id="window_days",
            label="Days",
            element=CheckboxesElement(
                action_id=INPUT,
                options=day_options,
                initial_options=[o for o in day_options if o.value in days] or None,
            ),
        ),
        InputBlock(
            block_id="window_start",
            label="From",
            element=TimePickerElement(action_id=INPUT, initial_time=start),
            hint="In the workspace timezone.",
        ),
        InputBlock(
            block_id="window_end",
            label="Until",
            element=TimePickerElement(action_id=INPUT, initial_time=end),
            hint="00:00 means midnight; every day from 00:00 to 00:00 means always.",
        ),
        text_input(
            "holidays",
            "Skip public holidays of",
            holidays,
            placeholder="FR",
            max_length=3,
            hint="A country code (FR, US, SE...); empty to send on holidays too.",
        ),
        quiet_hours_input(policy),
    ]


def _timing_blocks(policy: WorkspacePolicy) -> list[Block]:
    """Delay, method, reminders, fallback and cooldown."""
    delay_choice = policy.delay if policy.delay in DELAY_CHOICES else CUSTOM_DELAY
    fallback = [option("On: email when an SMS fails", "on"), option("Off", "off")]
    return [
        select_input(
            "delay",
            "Default delay",
            {**DELAY_CHOICES, CUSTOM_DELAY: "Custom"},
            delay_choice,
        ),
        text_input(
            "delay_custom",
            "Custom delay",
            policy.delay if delay_choice == CUSTOM_DELAY else "",
            placeholder="30m, 2h, 3d, 2w",
            max_length=10,
            hint='Only with "Custom".',
        ),
        select_input("method", "Default method", METHOD_LABELS, policy.method),
        select_input(
            "reminders",
            "Reminders",
            {str(n): "None" if n == 0 else str(n) for n in range(6)},
            str(policy.reminders),
            hint="Sent while the customer hasn't clicked, opted out or complained.",
        ),
        number_input(
            "reminder_interval_days",
            "Days between reminders",
            str(policy.reminder_interval_days),
            low="1",
            high="60",
        ),
        select_input(
            "reminder_channel", "Reminder channel", REMINDER_CHANNELS, policy.reminder_channel
        ),
        InputBlock(
            block_id="fallback_email",
            label="Fall back to email",
            element=RadioButtonsElement(
                action_id=INPUT,
                options=fallback,
                initial_option=fallback[0] if policy.fallback_email else fallback[1],
            ),
        ),
        number_input(
            "cooldown_days",
            "Cooldown (days)",
            str(policy.cooldown_days),
            low="0",
            high="3650",
            hint="A contact isn't invited again within these days, unless the sender overrides.",
        ),
    ]


def _slack_blocks(policy: WorkspacePolicy) -> list[Block]:
    """Where the team is told, and who else may administer."""
    return [
        channel_input(
            "notify_channel",
            "Notify channel",
            policy.notify_channel,
            "Every request gets a card and a thread here (else in the channel it came from).",
        ),
        channel_input(
            "alert_channel",
            "Alert channel",
            policy.alert_channel,
            "Failures, complaints and opt-outs (else in the request's thread).",
        ),
        InputBlock(
            block_id="admins",
            label="Admins",
            optional=True,
            hint="Besides Slack admins and owners, who may change settings, cancel all and export.",
            element=UserMultiSelectElement(
                action_id=INPUT, placeholder="Nobody else", initial_users=policy.admins or None
            ),
        ),
    ]


def settings_modal(
    policy: WorkspacePolicy,
    *,
    estimate: SmsEstimate,
    private_metadata: str = "",
    public_url: str = "",
    team_id: str = "",
) -> View:
    """Build the settings modal, every field filled with the workspace's current value.

    `public_url` and `team_id` make the order triggers' webhook addresses.
    """
    sections = (
        ("Business", _business_blocks(policy)),
        ("Send window", _window_blocks(policy)),
        ("Timing and method", _timing_blocks(policy)),
        ("Landing pages", landing_blocks(policy)),
        ("SMS", sms_blocks(policy, estimate)),
        ("Email", email_blocks(policy)),
        ("Slack", _slack_blocks(policy)),
        ("Customer data", privacy_blocks(policy)),
        ("Order triggers", trigger_blocks(policy, public_url=public_url, team_id=team_id)),
        ("Events", events_blocks(policy)),
        ("Digest", digest_blocks(policy)),
    )
    blocks: list[Block] = []
    for title, section in sections:
        blocks += [HeaderBlock(text=title), *section]
    blocks += [
        DividerBlock(),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Everything is checked when you save; nothing changes unless all of it is valid."
                )
            ]
        ),
    ]
    return View(
        type="modal",
        callback_id=SETTINGS_MODAL,
        title="Workspace settings",
        submit="Save",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=blocks,
    )


def replace_block(
    blocks: Sequence[Mapping[str, Any]], block_id: str, block: Block
) -> list[dict[str, Any]]:
    """Return a view's blocks with one block swapped (the others keep what the user typed)."""
    new = block.to_dict()
    return [new if b.get("block_id") == block_id else dict(b) for b in blocks]


def refusal_modal(text: str) -> View:
    """A modal that only says why the form can't be saved (it replaces the form)."""
    return View(
        type="modal",
        title="Workspace settings",
        close="Close",
        blocks=[SectionBlock(text=MarkdownTextObject(text=text[:MAX_TEXT]))],
    )


@lru_cache(maxsize=1)
def input_block_ids() -> frozenset[str]:
    """Return the block_id of every field of the settings modal."""
    view = settings_modal(WorkspacePolicy(), estimate=SmsEstimate(0)).to_dict()
    return frozenset(b["block_id"] for b in view["blocks"] if b["type"] == "input")
