"""The answer to `/reviews settings show`: every setting, and how admins change them."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock

from handlers.blocks.common import Reply, dicts, line_sections, md
from handlers.text import escape


def settings_reply(rows: Sequence[tuple[str, str]], *, admin: bool) -> Reply:
    """Show the workspace settings; say how admins change them."""
    lines = [f"`{key}` {escape(value) if value else '–'}" for key, value in rows]
    blocks: list[Block] = [HeaderBlock(text="Workspace settings"), *line_sections(lines)]
    hint = (
        "Change them in the form `/reviews settings` opens, "
        "or with `/reviews settings set key=value ...`; `/reviews settings help` says what "
        "each one means."
        if admin
        else "Only workspace admins can change them; `/reviews settings help` says what each "
        "one means."
    )
    blocks.append(ContextBlock(elements=[md(hint)]))
    return Reply("Workspace settings", dicts(blocks))


def settings_help_reply(keys: Sequence[tuple[str, str, str]]) -> Reply:
    """Say what each setting means and its default (bot/domain/setting_help.py)."""
    lines = [
        f"`{key}` {escape(meaning)} _Default: {escape(default)}._" for key, meaning, default in keys
    ]
    blocks: list[Block] = [HeaderBlock(text="What each setting means"), *line_sections(lines)]
    return Reply("What each setting means", dicts(blocks))
