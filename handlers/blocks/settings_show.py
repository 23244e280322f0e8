"""The answer to `/reviews settings show`: every setting, and how admins change them."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from handlers.blocks.common import Reply, dicts, md
from handlers.blocks.limits import MAX_TEXT
from handlers.text import escape


def settings_reply(rows: Sequence[tuple[str, str]], *, admin: bool) -> Reply:
    """Show the workspace settings; say how admins change them."""
    lines = [f"`{key}` {escape(value) if value else '–'}" for key, value in rows]
    blocks: list[Block] = [HeaderBlock(text="Workspace settings")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > MAX_TEXT - 10:
            blocks.append(SectionBlock(text=md("\n".join(chunk))))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(SectionBlock(text=md("\n".join(chunk))))
    hint = (
        "Change them in the form `/reviews settings` opens, "
        "or with `/reviews settings set key=value ...`."
        if admin
        else "Only workspace admins can change them."
    )
    blocks.append(ContextBlock(elements=[md(hint)]))
    return Reply("Workspace settings", dicts(blocks))
