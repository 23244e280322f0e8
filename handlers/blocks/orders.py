"""Block Kit for `/reviews list orders`: what the shops' order events did, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from bot.domain.orders import OUTCOME_WORDS, event_title
from bot.usecases.orders import TriggerEvent
from handlers.blocks.common import Reply, dicts, line_sections, md
from handlers.text import clip, escape, slack_date


def skipped_hint(skipped: int) -> str | None:
    """The list's one line about skipped orders (none when there are none)."""
    if not skipped:
        return None
    orders = "order was" if skipped == 1 else "orders were"
    return (
        f":shopping_trolley: {skipped} {orders} skipped by the order triggers in the last 7 days: "
        "`/reviews list orders` says why."
    )


def event_line(event: TriggerEvent, *, tz: str) -> str:
    """One event: when, which shop, which order, what it did and why."""
    title = escape(event_title(event.source, event.kind, event.reference))
    outcome = OUTCOME_WORDS.get(event.outcome, event.outcome)
    numbers = ", ".join(f"#{n}" for n in event.numbers)
    line = f"{slack_date(event.received_at, tz=tz)} · {title} · *{outcome}*"
    if numbers:
        line += f" {numbers}"
    if event.reason:
        line += f": {escape(clip(event.reason, 300))}"
    return line


def order_events_reply(events: Sequence[TriggerEvent], *, skipped: int, tz: str) -> Reply:
    """The latest order events, in sections that stay within Slack's text limit."""
    blocks: list[Block] = [SectionBlock(text=md("*Order triggers* · latest events"))]
    if not events:
        blocks.append(
            SectionBlock(
                text=md(
                    "No order event yet. An admin sets a shop's signing secret in "
                    "`/reviews settings`, which shows the address to give the shop."
                )
            )
        )
    blocks += line_sections(event_line(e, tz=tz) for e in events)
    blocks.append(
        ContextBlock(elements=[md(f"Skipped in the last 7 days: {skipped}. Kept 90 days.")])
    )
    text = f"Order triggers: {len(events)} latest events, {skipped} skipped in the last 7 days"
    return Reply(text, dicts(blocks))
