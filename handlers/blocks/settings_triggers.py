"""The settings modal's order triggers: each shop's webhook address, switch and signing secret.

A secret is write-only: the form says whether one is set, never shows it; an empty field keeps
it, a new one replaces it, "Remove" clears it.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    RadioButtonsElement,
)

from bot.domain.orders import SHOP_EVENTS, webhook_url
from bot.domain.policy import SECRET_MAX, WorkspacePolicy
from handlers.blocks.common import INPUT, option
from handlers.blocks.inputs import select_input, text_input
from handlers.text import TYPE_LABELS

SHOP_LABELS = {"shopify": "Shopify", "stripe": "Stripe"}
REMOVE_SECRETS = "remove_secrets"
SWITCH_WORDS = {
    "shopify": "fulfilled orders ask, refunds cancel",
    "stripe": "paid checkouts and invoices ask, refunds cancel",
}


def secret_key(source: str) -> str:
    return f"{source}_secret"


def switch_key(source: str) -> str:
    return f"{source}_orders"


def trigger_blocks(policy: WorkspacePolicy, *, public_url: str, team_id: str) -> list[Block]:
    """Each shop's address, switch and secret field; the delay and type; removable secrets."""
    blocks: list[Block] = []
    for source in SHOP_LABELS:
        blocks += _shop_blocks(policy, source, public_url=public_url, team_id=team_id)
    blocks += [
        text_input(
            "order_delay",
            "Delay after an order",
            policy.order_delay,
            placeholder="Empty: the default delay; or 30m, 2h, 3d, 2w",
            max_length=10,
            hint="When a triggered request goes out (always inside the send window).",
        ),
        select_input(
            "order_review_type", "Review type of an order", TYPE_LABELS, policy.order_review_type
        ),
    ]
    removable = [s for s in SHOP_LABELS if getattr(policy, secret_key(s))]
    if removable:
        blocks.append(
            InputBlock(
                block_id=REMOVE_SECRETS,
                label="Remove a signing secret",
                optional=True,
                element=CheckboxesElement(
                    action_id=INPUT,
                    options=[option(f"Remove the {SHOP_LABELS[s]} secret", s) for s in removable],
                ),
            )
        )
    return blocks


def _shop_blocks(
    policy: WorkspacePolicy, source: str, *, public_url: str, team_id: str
) -> list[Block]:
    """One shop: where it sends its events, its switch, its secret (never shown)."""
    label = SHOP_LABELS[source]
    events = ", ".join(f"`{e}`" for e in SHOP_EVENTS[source])
    address = webhook_url(public_url, source, team_id) if team_id else "(open from Slack)"
    switch = [option(f"On: {SWITCH_WORDS[source]}", "on"), option("Off", "off")]
    is_set = bool(getattr(policy, secret_key(source)))
    return [
        ContextBlock(
            elements=[MarkdownTextObject(text=f"*{label}* sends {events} to\n`{address}`")]
        ),
        InputBlock(
            block_id=switch_key(source),
            label=f"{label} orders",
            element=RadioButtonsElement(
                action_id=INPUT,
                options=switch,
                initial_option=switch[0] if getattr(policy, switch_key(source)) else switch[1],
            ),
        ),
        InputBlock(
            block_id=secret_key(source),
            label=f"{label} signing secret",
            optional=True,
            hint=(
                "Set (hidden). Leave empty to keep it; type a new one to replace it."
                if is_set
                else "Not set: every event is refused until it is."
            ),
            element=PlainTextInputElement(
                action_id=INPUT, max_length=SECRET_MAX, placeholder="Paste the secret"
            ),
        ),
    ]
