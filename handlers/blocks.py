"""Pure Block Kit builders for /reviews: modals, list pages, details and replies (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    DateTimePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.policy import WorkspacePolicy
from bot.domain.status import PENDING, Status, label
from bot.requests import METHOD_LABELS, BulkResult, RequestDetail
from handlers.controls import MAX_CHECKBOX_OPTIONS, bulk_blocks, customer_button
from handlers.notifications import channel_label, clip, escape, masked_contact, slack_date
from handlers.parsing import STATUS_GROUPS, PageState, replace_statuses
from store.models import Message, ReviewRequest
from store.queries import HistoryFilter

# Block Kit limits (https://api.slack.com/reference/block-kit).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_VIEW_TITLE = 24
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OVERFLOW_OPTIONS = 5
MAX_ACTION_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_PRIVATE_METADATA = 3000
MAX_ID = 255

# Callback and action ids the listeners match on.
SEND_MODAL = "send_request"
RESCHEDULE_MODAL = "reschedule_request"
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
INPUT = "value"  # the action_id of every modal input's element

WHEN_LABELS = {
    "now": "Now",
    "delay": "After the usual delay",
    "at": "At a date and time",
}
LANGUAGE_LABELS = {"en": "English", "fr": "Français", "sv": "Svenska"}
TYPE_LABELS = {"service": "Service", "product": "Product"}
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


@dataclass(frozen=True)
class Reply:
    """A message: its fallback text and its blocks (as dicts, ready for the Web API)."""

    text: str
    blocks: list[dict[str, Any]]

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _dicts(blocks: Iterable[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, MAX_TEXT))


def _option(text: str, value: str) -> Option:
    return Option(text=clip(text, MAX_OPTION_TEXT), value=value)


def text_reply(text: str) -> Reply:
    """Wrap a plain answer in one section block."""
    return Reply(clip(text, MAX_TEXT), _dicts([SectionBlock(text=_md(text))]))


# --- help -------------------------------------------------------------------------------------

HELP_LINES = (
    (
        "send",
        "`/reviews send` opens the form. Quick form:\n"
        "`/reviews send Jane Doe +33 6 10 20 30 40`\n"
        "`/reviews send Jane Doe jane@example.com via:email ref:A-1042 type:product`\n"
        "`/reviews send Jane +46 70 123 45 67 in:2h` · `... at:tomorrow 10:00` · "
        "`... at:2026-12-01 10:00` (workspace timezone) · "
        "`... lang:sv` · `... force:yes` (send even if invited recently)",
    ),
    (
        "list",
        "`/reviews list` newest first. Filters: `status:failed` `via:sms` `by:@jane` `by:me` "
        "`from:2026-11-01` `to:2026-11-30` `type:product` `ref:A-1042` and any name, email or phone:\n"
        "`/reviews list status:queued,paused via:whatsapp jane`",
    ),
    (
        "show",
        "`/reviews show #42` every detail of a request and its messages\n"
        "`/reviews show customer jane@example.com` · `... customer 06 10 20 30 40` · "
        "`... customer Jane Doe` one customer: opt-outs, every request and message",
    ),
    (
        "pause / resume / cancel",
        "`/reviews pause #42 43` · `/reviews resume #42` · "
        "`/reviews cancel #40-45`\n`/reviews cancel all queued` (admins; asks first)\n"
        "In `/reviews list`, tick rows and press Pause, Resume or Cancel selected",
    ),
    (
        "edit",
        "`/reviews edit #42` corrects the name, phone, email or reference until it goes out",
    ),
    (
        "delete",
        "`/reviews delete #42` erases a request's customer details and messages for good "
        "(admins; asks first)",
    ),
    (
        "stats / export",
        "`/reviews stats` the last 7 days (or `30d`, `from:2026-11-01 to:2026-11-30`): sent, "
        "delivered, opened, clicked, failed, per channel and per sender, and the SMS cost\n"
        "`/reviews export ; bom status:failed` every matching request as a CSV file in a direct "
        "message (admins; `,` or `;` first, `bom` for Excel, then any list filter)",
    ),
    (
        "settings",
        "`/reviews settings` opens the settings form (admins) · `/reviews settings show` "
        'lists them · `/reviews settings set delay=1d send_window="mon-fri 09:00-19:00"` (admins)',
    ),
    ("help", "`/reviews help` this message"),
)


def help_reply(unknown: str | None = None) -> Reply:
    """Describe every subcommand with examples; say so first when the subcommand was unknown."""
    blocks: list[Block] = []
    intro = "*/reviews* asks customers for reviews by SMS, WhatsApp and email."
    if unknown:
        intro = f"I don't know `{escape(unknown[:40])}`. Here is what `/reviews` can do:"
    blocks.append(SectionBlock(text=_md(intro)))
    for name, text in HELP_LINES:
        blocks.append(SectionBlock(text=_md(f"*{name}*\n{text}")))
    fallback = (
        intro
        + " Subcommands: send, list, show, edit, pause, resume, cancel, delete, stats, export, settings, help."
    )
    return Reply(fallback, _dicts(blocks))


# --- the send modal ---------------------------------------------------------------------------


def send_modal(policy: WorkspacePolicy, *, private_metadata: str = "") -> View:
    """Build the "Ask for a review" modal, defaulting to the workspace's method and language."""
    delay = "none" if policy.delay == "0" else policy.delay
    when_options = [
        _option(WHEN_LABELS["now"], "now"),
        _option(f"{WHEN_LABELS['delay']} ({delay})", "delay"),
        _option(WHEN_LABELS["at"], "at"),
    ]
    methods = [_option(text, value) for value, text in METHOD_LABELS.items()]
    types = [_option(text, value) for value, text in TYPE_LABELS.items()]
    languages = [_option(text, value) for value, text in LANGUAGE_LABELS.items()]
    override = _option("Send even if invited recently", "override")
    blocks: list[Block] = [
        InputBlock(
            block_id="name",
            label="Customer name",
            optional=True,
            element=PlainTextInputElement(action_id=INPUT, max_length=100),
            hint='Left empty, the message says "customer".',
        ),
        InputBlock(
            block_id="phone",
            label="Phone",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, placeholder="+33 6 10 20 30 40", max_length=40
            ),
            hint=f"Without a country code, read as a {policy.region} number.",
        ),
        InputBlock(
            block_id="email",
            label="Email",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, placeholder="jane@example.com", max_length=320
            ),
        ),
        InputBlock(
            block_id="method",
            label="Send via",
            element=StaticSelectElement(
                action_id=INPUT,
                options=methods,
                initial_option=next(o for o in methods if o.value == policy.method),
            ),
        ),
        InputBlock(
            block_id="review_type",
            label="Review type",
            element=RadioButtonsElement(action_id=INPUT, options=types, initial_option=types[0]),
        ),
        InputBlock(
            block_id="reference",
            label="Reference",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, placeholder="Order or service number", max_length=100
            ),
        ),
        InputBlock(
            block_id="when",
            label="When",
            element=RadioButtonsElement(
                action_id=INPUT, options=when_options, initial_option=when_options[1]
            ),
            hint=f"Always inside the send window ({policy.send_window}, {policy.timezone}).",
        ),
        InputBlock(
            block_id="at",
            label="Date and time",
            optional=True,
            element=DateTimePickerElement(action_id=INPUT),
            hint='Only for "At a date and time"; in your own timezone.',
        ),
        when_text_block(policy.timezone),
        InputBlock(
            block_id="language",
            label="Language",
            element=StaticSelectElement(
                action_id=INPUT,
                options=languages,
                initial_option=next(o for o in languages if o.value == policy.language),
            ),
        ),
        InputBlock(
            block_id="override",
            label="Cooldown",
            optional=True,
            element=CheckboxesElement(action_id=INPUT, options=[override]),
            hint=f"Customers invited in the last {policy.cooldown_days} days are skipped otherwise.",
        ),
    ]
    return View(
        type="modal",
        callback_id=SEND_MODAL,
        title="Ask for a review",
        submit="Send",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=blocks,
    )


def created_reply(request: ReviewRequest, *, tz: str = "UTC") -> Reply:
    """Confirm a new request to the person who asked (full contact: this is ephemeral)."""
    contact = " / ".join(x for x in (request.phone, request.email) if x)
    when = (
        f"goes out {slack_date(request.scheduled_at, tz=tz)}"
        if request.scheduled_at is not None
        else "queued"
    )
    text = (
        f":white_check_mark: *#{request.number}* created for *{escape(request.customer_name)}* "
        f"({escape(contact)}) by {channel_label(request.channel)}, {when}."
    )
    if request.reference:
        text += f" Reference {escape(request.reference)}."
    return text_reply(text)


# --- the reschedule modal ---------------------------------------------------------------------


def when_text_block(timezone: str) -> InputBlock:
    """The "or type it" field: in 2h, tomorrow 10:00, a date and time in the workspace timezone."""
    return InputBlock(
        block_id="at_text",
        label="Or type when",
        optional=True,
        element=PlainTextInputElement(
            action_id=INPUT, placeholder="in 2h · tomorrow 10:00 · 2026-12-01 10:00", max_length=40
        ),
        hint=f"In the workspace timezone ({timezone}).",
    )


def reschedule_modal(
    number: int, current: datetime | None, *, private_metadata: str, timezone: str = "UTC"
) -> View:
    """Build the small modal that moves a request's waiting messages to a new time."""
    picker = DateTimePickerElement(
        action_id=INPUT,
        initial_date_time=int(current.timestamp()) if current is not None else None,
    )
    return View(
        type="modal",
        callback_id=RESCHEDULE_MODAL,
        title=clip(f"Reschedule #{number}", MAX_VIEW_TITLE),
        submit="Reschedule",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=[
            InputBlock(
                block_id="at",
                label="New date and time",
                optional=True,
                element=picker,
                hint="In your own timezone; moved into the send window if it falls outside.",
            ),
            when_text_block(timezone),
        ],
    )


# --- the filter modal -------------------------------------------------------------------------


def filter_modal(
    f: HistoryFilter, *, timezone: str, private_metadata: str, text: str | None = None
) -> View:
    """Build the list filter modal, filled with the current filter."""
    statuses = [_option(s, s) for s in FILTER_STATUSES]
    initial_statuses = [o for o in statuses if o.value in f.statuses]
    channels = [
        _option(text_, value)
        for value, text_ in (("sms", "SMS"), ("whatsapp", "WhatsApp"), ("email", "Email"))
    ]
    types = [_option(t, v) for v, t in TYPE_LABELS.items()]

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
    if admin and row.request.deleted_at is None:
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
    by = (
        f"<@{request.created_by}>"
        if request.created_by[:1] in ("U", "W")
        else escape(request.created_by_name or request.created_by)
    )
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
            options=[_option(text, f"{verb}:{number}") for text, verb in actions],
        )
    else:  # an overflow menu needs two options
        accessory = ButtonElement(text="Details", action_id=ROW_DETAILS, value=str(number))
    return SectionBlock(
        block_id=f"row_{number}",
        text=_md(_row_text(row.request, row.waiting, tz)),
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
        blocks.append(SectionBlock(text=_md(note)))
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
    blocks.append(SectionBlock(text=_md(f"*Review requests* · {describe_filter(f, tz=tz)}")))
    blocks.append(ActionsBlock(block_id="list_counts", elements=count_buttons))
    blocks.append(DividerBlock())
    if not rows:
        blocks.append(SectionBlock(text=_md("No request matches.")))
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
    return Reply(clip(text, MAX_TEXT), _dicts(blocks))


# --- details ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderInfo:
    """Deployment-wide sender defaults, used where the workspace sets none."""

    email_from: str | None = None
    email_reply_to: str | None = None
    sms_from: str | None = None


def _when(value: datetime | None, empty: str = "–", tz: str = "UTC") -> str:
    return slack_date(value, tz=tz) if value is not None else empty


def reminder_status(detail: RequestDetail) -> str:
    """Say whether reminders are on for this request, and whether one is queued or was sent."""
    tz = detail.policy.timezone
    reminders = [m for m in detail.messages if m.kind == "reminder"]
    sent = [m for m in reminders if m.sent_at is not None]
    waiting = [m for m in reminders if Status(m.status) in PENDING]
    parts: list[str] = []
    if sent:
        parts.append(
            f"{len(sent)} sent, last {slack_date(max(m.sent_at for m in sent if m.sent_at), tz=tz)}"
        )
    if waiting:
        state = "paused" if waiting[0].status == Status.PAUSED else "queued"
        parts.append(f"{state} for {slack_date(waiting[0].due_at, tz=tz)}")
    if parts:
        return "; ".join(parts)
    policy = detail.policy
    if policy.reminders <= 0:
        return "Off"
    return f"On ({policy.reminders} after {policy.reminder_interval_days} days), none queued yet"


def _message_line(message: Message, tz: str = "UTC") -> str:
    status = Status(message.status)
    when = message.sent_at or message.due_at
    verb = "sent" if message.sent_at is not None else "due"
    line = (
        f"{message.kind.capitalize()} · {channel_label(message.channel)} to "
        f"{escape(message.to_address or '–')} · {label(status)} · {verb} {slack_date(when, tz=tz)}"
    )
    for stamp, what in (
        (message.delivered_at, "delivered"),
        (message.read_at, "read"),
        (message.opened_at, "opened"),
        (message.clicked_at, "clicked"),
        (message.failed_at, "failed"),
    ):
        if stamp is not None:
            line += f" · {what} {slack_date(stamp, '{date_short} {time}', tz=tz)}"
    if message.error_code or message.error_reason:
        code = f"`{escape(message.error_code)}` " if message.error_code else ""
        line += f"\n> :warning: {code}{escape(message.error_reason or '')}"
    return line


def detail_reply(detail: RequestDetail, sender: SenderInfo) -> Reply:
    """Show every detail of a request and its messages (for the person who asked only)."""
    r = detail.request
    policy = detail.policy
    tz = policy.timezone
    status = Status(r.status)
    email_name = policy.email_from_name or policy.business_name or "–"
    sms_name = policy.sms_sender or sender.sms_from or "–"
    sender_name = f"{escape(email_name)} (email) · {escape(sms_name)} (SMS)"
    landing = policy.landing_url(r.review_type, r.language) or "not set"
    fields_a = [
        f"*Name*\n{escape(r.customer_name)}",
        f"*Email*\n{escape(r.email or '–')}",
        f"*Phone*\n{escape(r.phone or '–')}",
        f"*Reference*\n{escape(r.reference or '–')}",
        f"*Type*\n{TYPE_LABELS.get(r.review_type, r.review_type)} review",
        f"*Created*\n{_when(r.created_at, tz=tz)} by {'<@' + r.created_by + '>' if r.created_by[:1] in ('U', 'W') else escape(r.created_by_name or r.created_by)}",
        f"*Status*\n{label(status)}",
        f"*Sent*\n{_when(r.sent_at, 'not yet', tz)}",
        f"*Reminder status*\n{reminder_status(detail)}",
        f"*Method*\n{escape(METHOD_LABELS.get(r.method, r.method))} (goes by {channel_label(r.channel)})",
    ]
    fields_b = [
        f"*Sender name*\n{sender_name}",
        f"*Sender email*\n{escape(policy.email_from or sender.email_from or '–')}",
        f"*Reply-to*\n{escape(policy.email_reply_to or sender.email_reply_to or '–')}",
        f"*Landing page*\n{escape(landing)}",
        f"*Language*\n{LANGUAGE_LABELS.get(r.language, r.language)}",
        f"*Retries*\n{r.retries}",
    ]
    if r.scheduled_at is not None and any(Status(m.status) in PENDING for m in detail.messages):
        fields_b.append(f"*Goes out*\n{slack_date(r.scheduled_at, tz=tz)}")
    if r.last_error:
        fields_b.append(f"*Last error*\n{escape(r.last_error)}")
    title = f"#{r.number} · {r.customer_name}"
    if r.deleted_at is not None:
        title = f"#{r.number} · deleted"
    blocks: list[Block] = [
        HeaderBlock(text=clip(title, MAX_HEADER)),
        SectionBlock(fields=[_md(clip(x, MAX_FIELD)) for x in fields_a[:MAX_FIELDS]]),
        SectionBlock(fields=[_md(clip(x, MAX_FIELD)) for x in fields_b[:MAX_FIELDS]]),
    ]
    if detail.contact is not None and detail.contact.id is not None and r.deleted_at is None:
        button = customer_button(detail.contact.id, "Customer: all requests and messages")
        blocks.append(ActionsBlock(block_id="request_customer", elements=[button]))
    blocks += [
        DividerBlock(),
        SectionBlock(text=_md(f"*Messages* ({len(detail.messages)})")),
    ]
    shown = detail.messages[-30:]
    if len(detail.messages) > len(shown):
        blocks.append(
            ContextBlock(elements=[_md(f"{len(detail.messages) - len(shown)} older not shown")])
        )
    for message in shown:
        blocks.append(SectionBlock(text=_md(_message_line(message, tz))))
    if not detail.messages:
        blocks.append(SectionBlock(text=_md("No message.")))
    history = [
        f"{slack_date(e.at, '{date_short} {time}', tz=tz)} {e.kind.replace('_', ' ')}"
        + (f" by {_actor(e.actor, e.detail)}" if e.actor else "")
        + (f": {escape(str(e.detail['reason']))}" if e.detail.get("reason") else "")
        for e in detail.events[-15:]
    ]
    if history:
        blocks.append(ContextBlock(elements=[_md("*History*\n" + "\n".join(history))]))
    text = f"#{r.number} {r.customer_name}: {status.value}"
    return Reply(clip(text, MAX_TEXT), _dicts(blocks[:MAX_MESSAGE_BLOCKS]))


def _actor(actor: str, detail: Mapping[str, Any]) -> str:
    if actor[:1] in ("U", "W") and actor[1:].isalnum() and actor.upper() == actor:
        return f"<@{actor}>"
    return escape(str(detail.get("actor_name") or actor))


# --- bulk replies and confirmations -----------------------------------------------------------


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
        SectionBlock(text=_md(text)),
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
    return Reply(text.replace("*", ""), _dicts(blocks))


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


def settings_reply(rows: Sequence[tuple[str, str]], *, admin: bool) -> Reply:
    """Show the workspace settings; say how admins change them."""
    lines = [f"`{key}` {escape(value) if value else '–'}" for key, value in rows]
    blocks: list[Block] = [HeaderBlock(text="Workspace settings")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > MAX_TEXT - 10:
            blocks.append(SectionBlock(text=_md("\n".join(chunk))))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(SectionBlock(text=_md("\n".join(chunk))))
    hint = (
        "Change them in the form `/reviews settings` opens, "
        "or with `/reviews settings set key=value ...`."
        if admin
        else "Only workspace admins can change them."
    )
    blocks.append(ContextBlock(elements=[_md(hint)]))
    return Reply("Workspace settings", _dicts(blocks))


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


# --- limits -----------------------------------------------------------------------------------


def limit_problems(payload: View | Mapping[str, Any] | Sequence[Any], *, kind: str) -> list[str]:
    """List every way a message ("message"), modal ("modal") or Home tab ("home") breaks Slack's limits."""
    if isinstance(payload, View):
        data: Any = payload.to_dict()
    elif isinstance(payload, Mapping):
        data = dict(payload)
    else:
        data = {"blocks": [b.to_dict() if isinstance(b, Block) else b for b in payload]}
    problems: list[str] = []
    blocks = data.get("blocks") or []
    most = MAX_MESSAGE_BLOCKS if kind == "message" else MAX_VIEW_BLOCKS
    if len(blocks) > most:
        problems.append(f"{len(blocks)} blocks (at most {most})")
    if kind != "message":
        for key in ("title", "submit", "close"):
            obj = data.get(key)
            if obj and len(obj.get("text", "")) > MAX_VIEW_TITLE:
                problems.append(f"{key} longer than {MAX_VIEW_TITLE}")
        if len(str(data.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
            problems.append("private_metadata too long")
    if len(str(data.get("text") or "")) > 40000:
        problems.append("text longer than 40000")

    def walk(node: Any, parent: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, parent)
            return
        if not isinstance(node, dict):
            return
        kind_ = node.get("type", "")
        if kind_ in ("plain_text", "mrkdwn"):
            most_text = MAX_HEADER if parent == "header" else MAX_TEXT
            if len(node.get("text", "")) > most_text:
                problems.append(f"{parent} text longer than {most_text}")
        if kind_ == "button":
            if len(node.get("text", {}).get("text", "")) > MAX_BUTTON_TEXT:
                problems.append(f"button text longer than {MAX_BUTTON_TEXT}")
            if len(str(node.get("value", ""))) > MAX_BUTTON_VALUE:
                problems.append(f"button value longer than {MAX_BUTTON_VALUE}")
        if kind_ == "overflow":
            count = len(node.get("options", []))
            if not 2 <= count <= MAX_OVERFLOW_OPTIONS:
                problems.append(f"overflow with {count} options (2 to {MAX_OVERFLOW_OPTIONS})")
        if kind_ == "section":
            fields = node.get("fields") or []
            if len(fields) > MAX_FIELDS:
                problems.append(f"section with {len(fields)} fields")
            for f in fields:
                if len(f.get("text", "")) > MAX_FIELD:
                    problems.append(f"section field longer than {MAX_FIELD}")
        if kind_ == "checkboxes" and len(node.get("options", [])) > MAX_CHECKBOX_OPTIONS:
            problems.append(f"checkboxes with more than {MAX_CHECKBOX_OPTIONS} options")
        if kind_ == "actions" and len(node.get("elements", [])) > MAX_ACTION_ELEMENTS:
            problems.append("actions block with too many elements")
        if kind_ == "context" and len(node.get("elements", [])) > MAX_CONTEXT_ELEMENTS:
            problems.append("context block with too many elements")
        for key in ("action_id", "block_id"):
            if len(str(node.get(key, ""))) > MAX_ID:
                problems.append(f"{key} longer than {MAX_ID}")
        if "options" in node and kind_ != "overflow":
            for option in node["options"]:
                if len(option.get("text", {}).get("text", "")) > MAX_OPTION_TEXT:
                    problems.append("option text too long")
        for option in node.get("options", []) if isinstance(node.get("options"), list) else []:
            if len(str(option.get("value", ""))) > MAX_OPTION_VALUE:
                problems.append("option value too long")
        for key, value in node.items():
            if isinstance(value, dict | list) and key != "options":
                walk(value, kind_ if kind_ not in ("plain_text", "mrkdwn") else parent)

    walk(blocks, "")
    return problems


def assert_within_limits(payload: View | Mapping[str, Any] | Sequence[Any], *, kind: str) -> None:
    """Raise ValueError when a message or view breaks one of Slack's limits.

    :raise ValueError: with every problem found.
    """
    problems = limit_problems(payload, kind=kind)
    if problems:
        raise ValueError("; ".join(problems))
