"""Pure Block Kit builders for the App Home tab and the modal it opens (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain.status import PENDING, Status, label
from bot.usecases.history import Counts, ReviewRequest
from handlers.blocks.common import md
from handlers.blocks.limits import MAX_FIELD, MAX_HEADER, MAX_VIEW_BLOCKS
from handlers.text import channel_label, clip, escape, masked_contact, slack_date

# Action ids of the Home buttons. HOME_EXPORT is answered by the export surface, not here.
HOME_SEND = "home_send"
HOME_QUEUED = "home_queued"
HOME_EXPORT = "home_export"
HOME_VIEW = "home"
QUEUED_MODAL = "home_queued_list"

RECENT_COUNT = 10
# Rows in the "Show queued" modal: one block each, well under the 100 blocks of a modal.
QUEUED_CAP = 50
QUEUED_QUERY = "status:queued,paused"


@dataclass(frozen=True)
class HomeData:
    """What the Home tab shows, read at one moment."""

    now: datetime
    periods: Sequence[tuple[int, Counts]]  # (days, counts of requests created in them)
    waiting: int  # requests queued or paused
    recent: Sequence[ReviewRequest]  # newest first
    timezone: str = "UTC"  # the workspace's: the fallback of Slack's date tokens


def _short(when: datetime, tz: str) -> str:
    return slack_date(when, "{date_short} {time}", tz=tz)


def _stats_block(days: int, c: Counts) -> SectionBlock:
    fields = [
        ("Sent", str(c.sent)),
        ("Delivered", str(c.delivered)),
        ("Opened", str(c.opened)),
        ("Clicked", str(c.clicked)),
        ("Failed", str(c.failed)),
        ("Click rate", f"{c.click_rate:.0%}"),
    ]
    return SectionBlock(
        block_id=f"home_stats_{days}",
        text=md(f"*Last {days} days*"),
        fields=[md(f"*{name}*\n{value}", MAX_FIELD) for name, value in fields],
    )


def _when(request: ReviewRequest, tz: str) -> str:
    """Say the date that matters for a request: when it went out, is due, or was made."""
    if request.sent_at is not None:
        return f"sent {_short(request.sent_at, tz)}"
    if Status(request.status) in PENDING and request.scheduled_at is not None:
        return f"due {_short(request.scheduled_at, tz)}"
    return f"created {_short(request.created_at, tz)}"


def request_line(request: ReviewRequest, tz: str = "UTC") -> str:
    """One request as a line: number, name, masked contact, channel, status with emoji, date."""
    if request.deleted_at is not None:
        return f"*#{request.number}* deleted"
    return (
        f"*#{request.number}* {escape(request.customer_name)} · "
        f"{escape(masked_contact(request))} · {channel_label(request.channel)} · "
        f"{label(Status(request.status))} · {_when(request, tz)}"
    )


def home_buttons() -> ActionsBlock:
    return ActionsBlock(
        block_id="home_actions",
        elements=[
            ButtonElement(text="Send request", action_id=HOME_SEND, value="send", style="primary"),
            ButtonElement(text="Show queued", action_id=HOME_QUEUED, value="queued"),
            ButtonElement(text="Export", action_id=HOME_EXPORT, value="export"),
        ],
    )


def home_view(data: HomeData) -> View:
    """Build the Home tab: stats per period, the waiting count, buttons, the latest requests."""
    blocks: list[Block] = [HeaderBlock(text=clip("Review requests", MAX_HEADER))]
    blocks += [_stats_block(days, c) for days, c in data.periods]
    noun = "request" if data.waiting == 1 else "requests"
    blocks.append(
        SectionBlock(
            block_id="home_waiting",
            text=md(f"*Waiting to go out*: {data.waiting} {noun} (queued or paused)"),
        )
    )
    blocks.append(home_buttons())
    blocks.append(DividerBlock())
    recent = list(data.recent)[:RECENT_COUNT]
    blocks.append(SectionBlock(text=md(f"*Latest {RECENT_COUNT} requests*")))
    if not recent:
        blocks.append(
            SectionBlock(text=md("No request yet: press *Send request* or type `/reviews send`."))
        )
    for request in recent:
        blocks.append(
            SectionBlock(
                block_id=f"home_row_{request.number}",
                text=md(request_line(request, data.timezone)),
            )
        )
    blocks.append(
        ContextBlock(
            elements=[
                md(
                    f"Updated {_short(data.now, data.timezone)} · every request: `/reviews list` · "
                    "details: `/reviews show #42`"
                )
            ]
        )
    )
    return View(type="home", callback_id=HOME_VIEW, blocks=blocks[:MAX_VIEW_BLOCKS])


def queued_modal(rows: Sequence[ReviewRequest], total: int, *, tz: str = "UTC") -> View:
    """Build the read-only modal of waiting requests, saying how many more there are."""
    shown = list(rows)[:QUEUED_CAP]
    noun = "request" if total == 1 else "requests"
    blocks: list[Block] = [
        SectionBlock(
            text=md(f"*{total}* {noun} waiting to go out (queued or paused), newest first.")
        )
    ]
    if not shown:
        blocks.append(SectionBlock(text=md("Nothing is waiting to go out.")))
    for request in shown:
        blocks.append(
            SectionBlock(block_id=f"queued_{request.number}", text=md(request_line(request, tz)))
        )
    more = total - len(shown)
    hint = "Pause, resume or cancel with `/reviews pause #42`, `/reviews resume #42`, `/reviews cancel #42`."
    if more > 0:
        hint = f"and {more} more — use `/reviews list {QUEUED_QUERY}`. " + hint
    blocks.append(ContextBlock(elements=[md(hint)]))
    return View(
        type="modal",
        callback_id=QUEUED_MODAL,
        title="Queued requests",
        close="Close",
        blocks=blocks[:MAX_VIEW_BLOCKS],
    )
