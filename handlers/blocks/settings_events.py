"""The settings modal's outbound events section: the URL and the write-only signing secret
(pure Block Kit builders, and the reading of what was typed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import Block

from bot.domain.events import URL_MAX
from bot.domain.policy import WorkspacePolicy
from handlers.blocks.inputs import text_input
from handlers.modal_input import entered

SECRET_MAX = 100  # "whsec_" and 64 bytes in base64


def events_blocks(policy: WorkspacePolicy) -> list[Block]:
    """The events URL, and the secret field, always empty: a secret is never shown back."""
    is_set = bool(policy.events_secret)
    return [
        text_input(
            "events_url",
            "Events URL",
            policy.events_url,
            placeholder="https://crm.example.com/hooks/reviews",
            max_length=URL_MAX,
            hint="Your system gets a signed webhook for each change of a request "
            "(created, sent, delivered, clicked, failed...). Empty: no events.",
        ),
        text_input(
            "events_secret",
            "Signing secret",
            "",
            placeholder="Set: type a new one to replace it" if is_set else "whsec_...",
            max_length=SECRET_MAX,
            hint="A Standard Webhooks secret (whsec_ and base64) your system checks the "
            "signature with. Never shown again; leave empty to keep the current one.",
        ),
    ]


def read_events(values: Mapping[str, Any], current: WorkspacePolicy) -> dict[str, str]:
    """Return the events settings typed in the form (an empty secret keeps the current one)."""
    return {
        "events_url": entered(values, "events_url") or "",
        "events_secret": entered(values, "events_secret") or current.events_secret,
    }
