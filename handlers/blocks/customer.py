"""Pure Block Kit builders for one customer's view, the choice among namesakes, and deletes.

The customer view is ephemeral, for the person who asked only, so it shows full phone numbers
and addresses, like a request's details.
"""

from __future__ import annotations

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

from bot.domain.contacts import format_phone_international
from bot.domain.status import Status, label
from bot.usecases.history import Contact, ContactHistory, Event, Message, ReviewRequest
from bot.usecases.inputs import CustomerLookup
from handlers.blocks.common import Reply, confirm_prompt, dicts, md, text_reply
from handlers.blocks.controls import (
    CUSTOMER_OPEN,
    CUSTOMER_VIEW,
    DELETE_CONFIRM,
    DELETE_KEEP,
    CustomerState,
)
from handlers.blocks.detail import message_line
from handlers.blocks.limits import MAX_FIELD, MAX_HEADER, MAX_MESSAGE_BLOCKS, MAX_TEXT
from handlers.blocks.listing import ROW_DETAILS
from handlers.text import (
    LANGUAGE_LABELS,
    channel_label,
    clip,
    escape,
    quote,
    slack_date,
    user_mention,
)

CUSTOMER_EXPORT = "customer_export_data"  # admins: everything held, as JSON in their DM
# The customer view's erase button (admins) and its confirmation.
CUSTOMER_ERASE = "customer_erase"
CUSTOMER_ERASE_CONFIRM = "customer_erase_confirm"
CUSTOMER_ERASE_KEEP = "customer_erase_keep"

REQUESTS_PER_PAGE = 10  # grouped: one section per request
MESSAGES_PER_PAGE = 40  # flat: in sections of LINES_PER_SECTION
LINES_PER_SECTION = 10
REPLY_QUOTE_LIMIT = 280  # a reply among a customer's messages: its start, quoted


@dataclass(frozen=True)
class _Line:
    """One thing that happened with the customer: a message we sent, or a reply they sent."""

    at: datetime
    order: int
    text: str


# --- the customer view ------------------------------------------------------------------------


def customer_reply(
    history: ContactHistory, state: CustomerState, *, tz: str = "UTC", admin: bool = False
) -> Reply:
    """Show a customer: contact, opt-outs, and their requests with messages, grouped or flat.

    Times are Slack date tokens falling back to `tz`, the workspace timezone. An admin also
    gets the button that erases the customer.
    """
    contact = history.contact
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Customer · {contact.name}", MAX_HEADER)),
        SectionBlock(fields=[md(clip(x, MAX_FIELD)) for x in _contact_fields(history, tz)]),
        SectionBlock(fields=[md(clip(x, MAX_FIELD)) for x in opt_out_fields(contact, tz)]),
    ]
    build = _flat_blocks if state.flat else _grouped_blocks
    noun = "message" if state.flat else "request"
    body, total, per_page = build(history, state.page, tz)
    pages = max(1, -(-total // per_page))
    page = min(state.page, pages - 1)
    if page != state.page:  # fewer pages than when the button was drawn
        body, total, per_page = build(history, page, tz)
    blocks.append(_view_buttons(state, page, pages, admin=admin))
    blocks.append(DividerBlock())
    blocks += body or [SectionBlock(text=md(f"No {noun} yet."))]
    blocks.append(ContextBlock(elements=[md(_page_note(history, noun, page, per_page, total))]))
    text = (
        f"Customer {escape(contact.name)}: {history.total_requests} "
        f"{'request' if history.total_requests == 1 else 'requests'}"
    )
    return Reply(clip(text, MAX_TEXT), dicts(blocks[:MAX_MESSAGE_BLOCKS]))


def _contact_fields(history: ContactHistory, tz: str) -> list[str]:
    contact = history.contact
    phone = (
        f"{format_phone_international(contact.phone)} ({contact.phone})" if contact.phone else "–"
    )
    return [
        f"*Name*\n{escape(contact.name)}",
        f"*Phone*\n{escape(phone)}",
        f"*Email*\n{escape(contact.email or '–')}",
        f"*Language*\n{LANGUAGE_LABELS.get(contact.language, contact.language)}",
        f"*Customer since*\n{slack_date(contact.created_at, tz=tz)}",
        f"*Requests*\n{history.total_requests}",
    ]


def opt_out_fields(contact: Contact, tz: str = "UTC") -> list[str]:
    """Say, per channel, whether the customer may still be contacted, and since when not."""
    if not contact.phone:
        phone = "No number"
    elif contact.phone_opted_out_at is not None:
        phone = (
            f":no_entry: Opted out {slack_date(contact.phone_opted_out_at, tz=tz)} (replied STOP)"
        )
    else:
        phone = ":white_check_mark: Allowed"
    if not contact.email:
        email = "No address"
    elif contact.email_opted_out_at is not None:
        email = (
            f":no_entry: Opted out {slack_date(contact.email_opted_out_at, tz=tz)} (unsubscribed)"
        )
    else:
        email = ":white_check_mark: Allowed"
    return [f"*SMS and WhatsApp*\n{phone}", f"*Email*\n{email}"]


def _view_buttons(state: CustomerState, page: int, pages: int, *, admin: bool) -> ActionsBlock:
    toggle = CustomerState(state.contact_id, flat=not state.flat)
    buttons = [
        ButtonElement(
            text="Group by request" if state.flat else "Flat list of messages",
            action_id=f"{CUSTOMER_VIEW}_toggle",
            value=toggle.encode(),
        )
    ]
    if page > 0:
        newer = CustomerState(state.contact_id, state.flat, page - 1)
        buttons.append(
            ButtonElement(text="Newer", action_id=f"{CUSTOMER_VIEW}_newer", value=newer.encode())
        )
    if page + 1 < pages:
        older = CustomerState(state.contact_id, state.flat, page + 1)
        buttons.append(
            ButtonElement(text="Older", action_id=f"{CUSTOMER_VIEW}_older", value=older.encode())
        )
    if admin:  # the button's listener asks again: a view forwarded to a non-admin is refused
        export = ButtonElement(
            text="Export data", action_id=CUSTOMER_EXPORT, value=str(state.contact_id)
        )
        buttons.append(export)
    if admin:  # asks for a confirmation first (erase_prompt)
        buttons.append(
            ButtonElement(
                text="Erase customer",
                action_id=CUSTOMER_ERASE,
                value=str(state.contact_id),
                style="danger",
            )
        )
    return ActionsBlock(block_id="customer_view", elements=buttons)


def _page_note(history: ContactHistory, noun: str, page: int, per_page: int, total: int) -> str:
    if total == 0:
        return f"No {noun}s."
    first = page * per_page + 1
    last = min(total, first + per_page - 1)
    note = f"{noun.capitalize()}s {first}–{last} of {total}, newest first."
    if last < total:
        note += f" {total - last} more: press Older."
    unread = history.total_requests - len(history.requests)
    if unread > 0:
        note += (
            f" Only the newest {len(history.requests)} requests are shown here; "
            f"{unread} older ones are in `/reviews list`."
        )
    return note


def _request_line(request: ReviewRequest, contact_name: str, tz: str) -> str:
    by = user_mention(request.created_by, request.created_by_name)
    parts = [
        f"*#{request.number}*",
        label(Status(request.status)),
        channel_label(request.channel),
        f"created {slack_date(request.created_at, '{date_short} {time}', tz=tz)} by {by}",
    ]
    if request.reference:
        parts.append(f"ref {escape(request.reference)}")
    if request.customer_name not in ("customer", contact_name):
        parts.append(f"as {escape(request.customer_name)}")  # named otherwise back then
    return " · ".join(parts)


def _reply_line(event: Event, tz: str) -> str:
    said = quote(str(event.detail.get("text") or ""), REPLY_QUOTE_LIMIT)
    return f":speech_balloon: Replied {slack_date(event.at, '{date_short} {time}', tz=tz)}:\n{said}"


def _lines(messages: list[Message], replies: list[Event], tz: str) -> list[_Line]:
    lines = [_Line(m.sent_at or m.due_at, m.id or 0, message_line(m, tz)) for m in messages]
    lines += [_Line(e.at, e.id or 0, _reply_line(e, tz)) for e in replies]
    return sorted(lines, key=lambda x: (x.at, x.order))


def _grouped_blocks(history: ContactHistory, page: int, tz: str) -> tuple[list[Block], int, int]:
    total = len(history.requests)
    shown = history.requests[page * REQUESTS_PER_PAGE : (page + 1) * REQUESTS_PER_PAGE]
    blocks: list[Block] = []
    for request in shown:
        assert request.id is not None
        lines = _lines(
            history.messages.get(request.id, []), history.replies.get(request.id, []), tz
        )
        blocks.append(
            SectionBlock(
                block_id=f"customer_request_{request.number}",
                text=md(
                    _fit(_request_line(request, history.contact.name, tz), [x.text for x in lines])
                ),
                accessory=ButtonElement(
                    text="Details", action_id=ROW_DETAILS, value=str(request.number)
                ),
            )
        )
    return blocks, total, REQUESTS_PER_PAGE


def _fit(head: str, lines: list[str]) -> str:
    """Join a heading and lines within one text's limit, saying how many did not fit."""
    text = head
    for i, line in enumerate(lines):
        candidate = f"{text}\n{line}"
        after = len(lines) - i - 1
        reserve = len(f"\n…{after} more: press Details") if after else 0
        if len(candidate) + reserve > MAX_TEXT:
            return f"{text}\n…{len(lines) - i} more: press Details"
        text = candidate
    if not lines:
        text += "\nNo message."
    return clip(text, MAX_TEXT)


def _flat_blocks(history: ContactHistory, page: int, tz: str) -> tuple[list[Block], int, int]:
    everything: list[_Line] = []
    for request in history.requests:
        assert request.id is not None
        for line in _lines(
            history.messages.get(request.id, []), history.replies.get(request.id, []), tz
        ):
            everything.append(_Line(line.at, line.order, f"`#{request.number}` {line.text}"))
    everything.sort(key=lambda x: (x.at, x.order), reverse=True)
    total = len(everything)
    shown = everything[page * MESSAGES_PER_PAGE : (page + 1) * MESSAGES_PER_PAGE]
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in shown:
        text = clip(line.text, MAX_TEXT // 2)
        if len(chunk) >= LINES_PER_SECTION or sum(len(x) + 1 for x in chunk) + len(text) > MAX_TEXT:
            blocks.append(SectionBlock(text=md("\n".join(chunk))))
            chunk = []
        chunk.append(text)
    if chunk:
        blocks.append(SectionBlock(text=md("\n".join(chunk))))
    return blocks, total, MESSAGES_PER_PAGE


# --- several customers answer to a name ------------------------------------------------------


def customer_choices_reply(lookup: CustomerLookup, *, tz: str = "UTC") -> Reply:
    """Ask which of several customers was meant, with a button for each (full contacts)."""
    count = f"{len(lookup.choices)}{'+' if lookup.more else ''}"
    intro = f"{count} customers match “{escape(lookup.query)}”. Which one?"
    blocks: list[Block] = [SectionBlock(text=md(intro))]
    for contact in lookup.choices:
        assert contact.id is not None
        details = " · ".join(
            x
            for x in (
                format_phone_international(contact.phone) if contact.phone else "",
                contact.email or "",
                f"since {slack_date(contact.created_at, '{date_short}', tz=tz)}",
            )
            if x
        )
        blocks.append(
            SectionBlock(
                block_id=f"customer_choice_{contact.id}",
                text=md(f"*{escape(contact.name)}*\n{escape(details)}"),
                accessory=ButtonElement(
                    text="Show", action_id=CUSTOMER_OPEN, value=CustomerState(contact.id).encode()
                ),
            )
        )
    if lookup.more:
        blocks.append(
            ContextBlock(
                elements=[md("More customers match: type their phone number or email instead.")]
            )
        )
    return Reply(clip(intro, MAX_TEXT), dicts(blocks[:MAX_MESSAGE_BLOCKS]))


# --- delete ---------------------------------------------------------------------------------


def delete_prompt(number: int) -> Reply:
    """Ask an admin to confirm erasing a request for good."""
    return confirm_prompt(
        f":wastebasket: Delete *#{number}* for good? Its customer name, phone, email, reference "
        "and message texts are erased, and anything still waiting is canceled. "
        "Only an audit line of who deleted it and when stays. This can't be undone.",
        block_id="delete_request",
        confirm=(f"Delete #{number}", DELETE_CONFIRM, str(number)),
        keep=("Keep it", DELETE_KEEP, str(number)),
    )


def deleted_reply(number: int) -> Reply:
    """Confirm a delete to the admin who asked."""
    return text_reply(
        f":wastebasket: Deleted #{number}: its customer details and messages are erased. "
        "Its card in the channel now says it was deleted."
    )


def customer_lookup_reply(lookup: CustomerLookup, *, tz: str = "UTC", admin: bool = False) -> Reply:
    """Show the one customer found, or ask which of several was meant."""
    if lookup.history is None:
        return customer_choices_reply(lookup, tz=tz)
    assert lookup.history.contact.id is not None
    state = CustomerState(lookup.history.contact.id)
    return customer_reply(lookup.history, state, tz=tz, admin=admin)


# --- erase a customer -------------------------------------------------------------------------


def erase_prompt(history: ContactHistory) -> Reply:
    """Ask an admin to confirm erasing a customer for good."""
    contact = history.contact
    count = history.total_requests
    return confirm_prompt(
        f":wastebasket: Erase *{escape(contact.name)}* for good? Their name, phone and email, "
        f"and the messages and replies of their {count} "
        f"{'request' if count == 1 else 'requests'} are erased, anything still waiting is "
        "canceled, and the cards and thread replies in Slack are overwritten. Only audit lines "
        "stay, and, if they had opted out, a keyed hash of that address so they are never "
        "contacted again unless they opt back in. This can't be undone.",
        block_id="erase_customer",
        confirm=("Erase customer", CUSTOMER_ERASE_CONFIRM, str(contact.id)),
        keep=("Keep them", CUSTOMER_ERASE_KEEP, str(contact.id)),
    )


def erased_reply(count: int) -> Reply:
    """Confirm a customer's erasure to the admin who asked."""
    noun = "request" if count == 1 else "requests"
    return text_reply(
        f":wastebasket: Erased the customer and {count} {noun}: their details and messages are "
        "gone, and their cards in the channel now say so."
    )
