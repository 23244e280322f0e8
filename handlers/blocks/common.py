"""Block Kit pieces every surface shares: the reply shape, markdown, options, metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    MarkdownTextObject,
    Option,
    SectionBlock,
)

from handlers.blocks.limits import (
    MAX_OPTION_TEXT,
    MAX_PRIVATE_METADATA,
    MAX_TEXT,
)
from handlers.text import clip

INPUT = "value"  # the action_id of every modal input's element


@dataclass(frozen=True)
class Reply:
    """A message: its fallback text and its blocks (as dicts, ready for the Web API)."""

    text: str
    blocks: list[dict[str, Any]]

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def dicts(blocks: Iterable[Block]) -> list[dict[str, Any]]:
    """Turn blocks into the dicts the Web API takes."""
    return [b.to_dict() for b in blocks]


def md(text: str, limit: int = MAX_TEXT) -> MarkdownTextObject:
    """Wrap mrkdwn text, clipped to a Block Kit limit."""
    return MarkdownTextObject(text=clip(text, limit))


def line_sections(lines: Iterable[str]) -> list[Block]:
    """Lines in as few sections as their text limit allows (a line is never split)."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > MAX_TEXT - 10:
            blocks.append(SectionBlock(text=md("\n".join(chunk))))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(SectionBlock(text=md("\n".join(chunk))))
    return blocks


def option(text: str, value: str) -> Option:
    """Build a menu or checkbox option, its text clipped to Slack's limit."""
    return Option(text=clip(text, MAX_OPTION_TEXT), value=value)


def text_reply(text: str) -> Reply:
    """Wrap a plain answer in one section block."""
    return Reply(clip(text, MAX_TEXT), dicts([SectionBlock(text=md(text))]))


def confirm_prompt(
    text: str,
    *,
    block_id: str,
    confirm: tuple[str, str, str],
    keep: tuple[str, str, str],
) -> Reply:
    """Ask to confirm something that can't be undone: a danger button and a way out.

    `confirm` and `keep` are (label, action_id, value) of the two buttons.
    """
    (confirm_text, confirm_id, confirm_value), (keep_text, keep_id, keep_value) = confirm, keep
    blocks: list[Block] = [
        SectionBlock(text=md(text)),
        ActionsBlock(
            block_id=block_id,
            elements=[
                ButtonElement(
                    text=confirm_text, action_id=confirm_id, value=confirm_value, style="danger"
                ),
                ButtonElement(text=keep_text, action_id=keep_id, value=keep_value),
            ],
        ),
    ]
    return Reply(text.replace("*", ""), dicts(blocks))


def metadata(**values: Any) -> str:
    """Pack what a modal must remember into its private_metadata (at most 3000 characters)."""
    packed = json.dumps({k: v for k, v in values.items() if v is not None}, separators=(",", ":"))
    if len(packed) > MAX_PRIVATE_METADATA:
        raise ValueError("private_metadata too long")
    return packed


def read_metadata(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
