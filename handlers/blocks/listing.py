"""Block Kit for /reviews list: the filter modal, a list page, bulk replies, confirmations."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DatePickerElement,
    DividerBlock,
    InputBlock,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.status import Status, label
from bot.usecases.history import HistoryFilter, ReviewRequest
from bot.usecases.inputs import BulkResult
from handlers.blocks.common import INPUT, Reply, confirm_prompt, dicts, md, option, text_reply
from handlers.blocks.controls import bulk_blocks
from handlers.blocks.limits import (
    MAX_OVERFLOW_OPTIONS,
    MAX_TEXT,
)
from handlers.parsing import STATUS_GROUPS, PageState, replace_statuses
from handlers.text import (
    CHANNEL_LABELS,
    TYPE_LABELS,
    channel_label,
    clip,
    escape,
    masked_contact,
    slack_date,
    user_mention,
)

# Callback and action ids the listeners match on.
FILTER_MODAL = "list_filter"
ROW_MENU = "list_row"
ROW_DETAILS = "list_row_details"
LIST_PREV = "list_prev"
LIST_NEXT = "list_next"
LIST_REFRESH = "list_refresh"
LIST_FILTER = "list_filter_open"
LIST_CLEAR = "list_clear"
LIST_COUNT = "list_count_"  # + sent, opened, clicked, failed
CANCEL_ALL_CONFIRM = "cancel_all_confirm"
CANCEL_ALL_KEEP = "cancel_all_keep"
ROW_CANCEL_CONFIRM = "row_cancel_confirm"
ROW_CANCEL_KEEP = "row_cancel_keep"

FILTER_STATUSES = (
    "queued",
    "paused",
    "sent",
    "delivered",
    "read",
    "opened",
    "clicked",
    "failed",
    "undelivered",
    "unknown",
    "complained",
    "unsubscribed",
    "canceled",
)


def filter_modal(
    f: HistoryFilter, *, timezone: str, private_metadata: str, text: str | None = None
) -> View:
    """Build the list filter modal, filled with the current filter."""
    statuses = [option(s, s) for s in FILTER_STATUSES]
    initial_statuses = [o for o in statuses if o.value in f.statuses]
    channels = [option(text_, value) for value, text_ in CHANNEL_LABELS.items()]
    types = [option(t, v) for v, t in TYPE_LABELS.items()]

    def day(value: datetime | None, minus_one: bool = False) -> str | None:
        if value is None:
            return None
        local = value.astimezone(ZoneInfo(timezone))
        if minus_one:
            local -= timedelta(days=1)
        return local.date().isoformat()

    status_el = StaticMultiSelectElement(
        action_id=INPUT,
        placeholder="Any status",
        options=statuses,
        initial_options=initial_statuses or None,
    )
    via_el = StaticSelectElement(
        action_id=INPUT,
        placeholder="Any channel",
        options=channels,
        initial_option=next((o for o in channels if o.value == f.channel), None),
    )
    type_el = StaticSelectElement(
        action_id=INPUT,
        placeholder="Any type",
        options=types,
        initial_option=next((o for o in types if o.value == f.review_type), None),
    )
    blocks: list[Block] = [
        InputBlock(block_id="status", label="Status", optional=True, element=status_el),
        InputBlock(block_id="via", label="Sent via", optional=True, element=via_el),
        InputBlock(
            block_id="by",
            label="Sent by",
            optional=True,
            element=UserSelectElement(
                action_id=INPUT, placeholder="Anyone", initial_user=f.created_by
            ),
        ),
        InputBlock(
            block_id="from",
            label="Created from",
            optional=True,
            element=DatePickerElement(action_id=INPUT, initial_date=day(f.created_from)),
        ),
        InputBlock(
            block_id="to",
            label="Created until (inclusive)",
            optional=True,
            element=DatePickerElement(
                action_id=INPUT, initial_date=day(f.created_to, minus_one=True)
            ),
        ),
        InputBlock(block_id="type", label="Review type", optional=True, element=type_el),
        InputBlock(
            block_id="ref",
            label="Reference",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, initial_value=f.reference or None, max_length=100
            ),
        ),
        InputBlock(
            block_id="text",
            label="Name, email or phone",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, initial_value=text or f.text or None, max_length=100
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=FILTER_MODAL,
        title="Filter requests",
        submit="Filter",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=blocks,
    )


# --- the list page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One request on a list page, with the statuses of its messages still waiting."""

    request: ReviewRequest
    waiting: frozenset[Status]


def row_actions(row: Row, *, admin: bool = False) -> list[tuple[str, str]]:
    """Return (label, verb) for the actions the request's state allows, then Details (and
    Delete, for admins)."""
    actions: list[tuple[str, str]] = []
    status = Status(row.request.status)
    if row.request.deleted_at is None:
        if Status.QUEUED in row.waiting:
            actions.append(("Pause", "pause"))
        elif Status.PAUSED in row.waiting:
            actions.append(("Resume", "resume"))
        if row.waiting:
            actions += [("Cancel", "cancel"), ("Reschedule", "reschedule")]
            if row.request.sent_at is None:
                actions.append(("Edit", "edit"))
        elif status in (Status.FAILED, Status.UNDELIVERED, Status.UNKNOWN):
            actions.append(("Resend", "resend"))
    actions.append(("Details", "details"))
    # Slack's overflow menu holds five options: Delete, the rarest, gives way when the row
    # already has five (an admin can still type `/reviews delete #N`).
    if admin and row.request.deleted_at is None and len(actions) < MAX_OVERFLOW_OPTIONS:
        actions.append(("Delete", "delete"))
    return actions


def _row_text(request: ReviewRequest, waiting: Collection[Status], tz: str = "UTC") -> str:
    status = Status(request.status)
    if request.sent_at is not None:
        sent = f"sent {slack_date(request.sent_at, tz=tz)}"
    elif waiting and request.scheduled_at is not None:
        sent = f"goes out {slack_date(request.scheduled_at, tz=tz)}"
    else:
        sent = "not sent"
    by = user_mention(request.created_by, request.created_by_name)
    retries = f"{request.retries} {'retry' if request.retries == 1 else 'retries'}"
    return (
        f"*#{request.number}* {escape(request.customer_name)} · {escape(masked_contact(request))}\n"
        f"{label(status)} · {channel_label(request.channel)} · by {by} · {sent} · {retries}"
    )


def _row_block(row: Row, tz: str = "UTC", *, admin: bool = False) -> SectionBlock:
    number = row.request.number
    actions = row_actions(row, admin=admin)
    accessory: OverflowMenuElement | ButtonElement
    if len(actions) >= 2:
        accessory = OverflowMenuElement(
            action_id=ROW_MENU,
            options=[option(text, f"{verb}:{number}") for text, verb in actions],
        )
    else:  # an overflow menu needs two options
        accessory = ButtonElement(text="Details", action_id=ROW_DETAILS, value=str(number))
    return SectionBlock(
        block_id=f"row_{number}",
        text=md(_row_text(row.request, row.waiting, tz)),
        accessory=accessory,
    )


def describe_filter(f: HistoryFilter, *, tz: str = "UTC") -> str:
    """Say in words what a filter keeps."""
    parts: list[str] = []
    group = next((k for k, v in STATUS_GROUPS.items() if v == f.statuses), None)
    if group:
        members = [s for s in FILTER_STATUSES if s in f.statuses]
        parts.append(f"{group} ({', '.join(members)})")
    elif f.statuses:
        parts.append("status " + " or ".join(s for s in FILTER_STATUSES if s in f.statuses))
    if f.channel:
        parts.append(f"via {channel_label(f.channel)}")
    if f.created_by:
        parts.append(f"by <@{f.created_by}>")
    if f.review_type:
        parts.append(f"{f.review_type} reviews")
    if f.reference:
        parts.append(f"reference {escape(f.reference)}")
    if f.import_id is not None:
        parts.append(f"import {f.import_id}")
    if f.created_from:
        parts.append(f"created from {slack_date(f.created_from, '{date_short}', tz=tz)}")
    if f.created_to:
        parts.append(f"created before {slack_date(f.created_to, '{date_short}', tz=tz)}")
    if f.sent_from:
        parts.append(f"sent from {slack_date(f.sent_from, '{date_short}', tz=tz)}")
    if f.sent_to:
        parts.append(f"sent before {slack_date(f.sent_to, '{date_short}', tz=tz)}")
    if f.text:
        parts.append(f"matching “{escape(f.text)}”")
    return ", ".join(parts) if parts else "all requests"


def list_reply(
    rows: Sequence[Row],
    *,
    state: PageState,
    f: HistoryFilter,
    counts: Mapping[str, int],
    next_state: PageState | None,
    prev_state: PageState | None,
    note: str | None = None,
    admin: bool = False,
    tz: str = "UTC",
) -> Reply:
    """Build one list page: counts that filter, Filter, the rows with their menus, the row
    checkboxes and "… selected" buttons, paging. Admins also get Delete in each row's menu."""
    blocks: list[Block] = []
    if note:
        blocks.append(SectionBlock(text=md(note)))
    count_buttons = []
    for key in ("sent", "opened", "clicked", "failed"):
        target = PageState(replace_statuses(state.query, STATUS_GROUPS[key]))
        count_buttons.append(
            ButtonElement(
                text=f"{key.capitalize()}: {counts.get(key, 0)}",
                action_id=LIST_COUNT + key,
                value=target.encode(),
                style="primary" if f.statuses == STATUS_GROUPS[key] else None,
            )
        )
    count_buttons.append(
        ButtonElement(text="Filter", action_id=LIST_FILTER, value=state.first_page().encode())
    )
    if state.query:
        count_buttons.append(
            ButtonElement(text="Clear filter", action_id=LIST_CLEAR, value=PageState().encode())
        )
    blocks.append(SectionBlock(text=md(f"*Review requests* · {describe_filter(f, tz=tz)}")))
    blocks.append(ActionsBlock(block_id="list_counts", elements=count_buttons))
    blocks.append(DividerBlock())
    if not rows:
        blocks.append(SectionBlock(text=md("No request matches.")))
    for row in rows:
        blocks.append(_row_block(row, tz, admin=admin))
    blocks += bulk_blocks(
        [(r.request.number, r.request.customer_name) for r in rows], state.encode()
    )
    nav: list[ButtonElement] = []
    if prev_state is not None:
        nav.append(ButtonElement(text="Previous", action_id=LIST_PREV, value=prev_state.encode()))
    if next_state is not None:
        nav.append(ButtonElement(text="Next", action_id=LIST_NEXT, value=next_state.encode()))
    nav.append(ButtonElement(text="Refresh", action_id=LIST_REFRESH, value=state.encode()))
    blocks.append(ActionsBlock(block_id="list_nav", elements=nav))
    numbers = ", ".join(f"#{r.request.number}" for r in rows) or "none"
    text = f"Review requests ({describe_filter(f, tz=tz)}): {numbers}"
    return Reply(clip(text, MAX_TEXT), dicts(blocks))


def bulk_reply(result: BulkResult, verb: str) -> Reply:
    """Say what changed and, for each request that could not change, why."""
    lines: list[str] = []
    if result.changed:
        numbers = ", ".join(f"#{n}" for n in result.changed)
        lines.append(f":white_check_mark: {verb.capitalize()}: {numbers}.")
    for number, reason in result.refused:
        lines.append(f":warning: #{number} not {verb}: {escape(reason)}")
    if not lines:
        lines.append(f"Nothing was {verb}.")
    return text_reply("\n".join(lines))


def cancel_all_prompt(count: int) -> Reply:
    """Ask an admin to confirm canceling every queued request, with the count."""
    noun = "request" if count == 1 else "requests"
    return confirm_prompt(
        f":warning: Cancel all *{count}* queued or paused {noun}? "
        "Nothing more will be sent for them, and this can't be undone.",
        block_id="cancel_all",
        confirm=(f"Cancel {count} {noun}", CANCEL_ALL_CONFIRM, str(count)),
        keep=("Keep them", CANCEL_ALL_KEEP, "keep"),
    )


def row_cancel_prompt(number: int) -> Reply:
    """Ask to confirm canceling one request from the list."""
    return confirm_prompt(
        f"Cancel *#{number}*? Nothing more will be sent for it.",
        block_id="row_cancel",
        confirm=(f"Cancel #{number}", ROW_CANCEL_CONFIRM, str(number)),
        keep=("Keep it", ROW_CANCEL_KEEP, str(number)),
    )
