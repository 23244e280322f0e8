"""Block Kit of `/reviews apikey`: a new key's secret (shown once) and the list of keys."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from bot.usecases.api_keys import ApiKey
from handlers.blocks.common import Reply, dicts, md
from handlers.blocks.limits import MAX_MESSAGE_BLOCKS
from handlers.text import clip, escape, slack_date, user_mention

USAGE = "`/reviews apikey create NAME` · `/reviews apikey list` · `/reviews apikey revoke ID`"


def created_key_reply(key: ApiKey, secret: str) -> Reply:
    """Show a new key's secret, once, to the admin who made it."""
    name = escape(key.name)
    text = (
        f":key: API key {key.id} *{name}* created. Copy its secret now: it is stored only as a "
        "hash and will not be shown again."
    )
    blocks: list[Block] = [
        SectionBlock(text=md(text)),
        SectionBlock(text=md(f"```{secret}```")),
        ContextBlock(
            elements=[
                md(
                    "Send it as `Authorization: Bearer &lt;secret&gt;` to `/api/v1`. "
                    f"`/reviews apikey revoke {key.id}` ends it."
                )
            ]
        ),
    ]
    # The fallback (notifications, previews) never holds the secret.
    return Reply(clip(f"API key {key.id} ({name}) created: copy its secret below."), dicts(blocks))


def key_line(key: ApiKey, tz: str) -> str:
    """One key as a line of the list: id, name, first characters, creator, last use, state."""
    used = slack_date(key.last_used_at, tz=tz) if key.last_used_at else "never"
    state = f"revoked {slack_date(key.revoked_at, tz=tz)}" if key.revoked_at else "active"
    creator = user_mention(key.created_by, key.created_by_name)
    return (
        f"*{key.id}* · {escape(key.name)} · `{key.prefix}…` · by {creator} · "
        f"last used {used} · {state}"
    )


def keys_reply(keys: Sequence[ApiKey], tz: str) -> Reply:
    """List the workspace's keys, newest last (the oldest dropped past Slack's block limit)."""
    if not keys:
        text = "No API keys yet. `/reviews apikey create NAME` makes one."
        return Reply(text, dicts([SectionBlock(text=md(text))]))
    shown = list(keys)[-(MAX_MESSAGE_BLOCKS - 2) :]
    blocks: list[Block] = [SectionBlock(text=md(f"*API keys* ({len(keys)})"))]
    blocks += [SectionBlock(text=md(key_line(key, tz))) for key in shown]
    blocks.append(ContextBlock(elements=[md(USAGE)]))
    fallback = f"API keys: {', '.join(f'{k.id} {escape(k.name)}' for k in keys)}"
    return Reply(clip(fallback), dicts(blocks))
