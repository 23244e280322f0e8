"""Block Kit builders for the message sections of the settings modal: landing pages, the SMS
and the email (pure, no I/O)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, InputBlock, PlainTextInputElement

from bot.domain.policy import SMS_CUSTOM_MAX, WorkspacePolicy
from handlers.blocks.inputs import number_input, text_input
from handlers.blocks.limits import MAX_INPUT
from handlers.blocks.sms_estimate import SmsEstimate, format_price, sms_preview_block
from handlers.text import LANGUAGE_LABELS, TYPE_LABELS

SMS_TEXT_ACTION = "settings_sms_text"  # dispatches on every character: the live estimate


def body_too_long(policy: WorkspacePolicy) -> bool:
    """Say whether the email body (the CLI allows 5000 characters) can't fit the form."""
    return len(policy.email_body) > MAX_INPUT


def landing_block(review_type: str, language: str | None) -> str:
    """Return the block_id of a landing page field (language None: the type's default)."""
    return f"landing_{review_type}" + (f"_{language}" if language else "")


def landing_blocks(policy: WorkspacePolicy) -> list[Block]:
    """One landing page per review type, then one per type and language."""
    blocks: list[Block] = []
    for review_type, type_label in TYPE_LABELS.items():
        default = (
            policy.landing_url_product if review_type == "product" else policy.landing_url_service
        )
        blocks.append(
            text_input(
                landing_block(review_type, None),
                f"{type_label} reviews",
                default,
                placeholder="https://g.page/r/...",
                hint="Where the review link leads when no page is set for the language.",
            )
        )
        for language, language_label in LANGUAGE_LABELS.items():
            blocks.append(
                text_input(
                    landing_block(review_type, language),
                    f"{type_label} reviews, {language_label}",
                    policy.landing_urls.get(f"{review_type}.{language}", ""),
                    placeholder="https://...",
                )
            )
    return blocks


def sms_blocks(policy: WorkspacePolicy, estimate: SmsEstimate) -> list[Block]:
    """The SMS sender, text (with its live estimate) and price."""
    return [
        text_input(
            "sms_sender",
            "SMS sender name",
            policy.sms_sender,
            max_length=11,
            hint="At most 11 letters, digits and spaces; not digits only.",
        ),
        InputBlock(
            block_id="sms_template",
            label="SMS text",
            optional=True,
            dispatch_action=True,
            hint=(
                f"At most {SMS_CUSTOM_MAX} characters; the link and the STOP notice are added. "
                "Placeholders: {{ name }}, {{ business }}, {{ reference }}. "
                "Empty: the default text in the contact's language."
            ),
            element=PlainTextInputElement(
                action_id=SMS_TEXT_ACTION,
                initial_value=policy.sms_template or None,
                multiline=True,
                max_length=500,
                dispatch_action_config={
                    "trigger_actions_on": ["on_character_entered", "on_enter_pressed"]
                },
            ),
        ),
        sms_preview_block(estimate),
        number_input(
            "sms_price",
            f"Price per SMS segment ({policy.currency})",
            format_price(policy.sms_price),
            low="0",
            high="10",
            decimal=True,
        ),
    ]


def email_blocks(policy: WorkspacePolicy) -> list[Block]:
    """The email sender, reply-to, subject and body."""
    return [
        text_input("email_from_name", "Email sender name", policy.email_from_name, max_length=80),
        text_input(
            "email_from", "From address", policy.email_from, placeholder="reviews@example.com"
        ),
        text_input("email_reply_to", "Reply-to address", policy.email_reply_to),
        text_input(
            "email_subject",
            "Subject",
            policy.email_subject,
            max_length=200,
            hint="Empty: the default subject in the contact's language.",
        ),
        text_input(
            "email_body",
            "Body",
            "" if body_too_long(policy) else policy.email_body,
            multiline=True,
            max_length=MAX_INPUT,
            hint=(
                f"The body set from the command line is {len(policy.email_body)} characters, "
                f"more than this form holds ({MAX_INPUT}): left empty, it is kept."
                if body_too_long(policy)
                else "Placeholders: {{ name }}, {{ business }}, {{ link }}, {{ reference }}, "
                "{{ unsubscribe_link }}. Empty: the default email."
            ),
        ),
    ]
