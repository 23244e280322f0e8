"""Block Kit for a request's thread: the card, its buttons, decision lines and alerts."""

from __future__ import annotations

from collections.abc import Collection

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.channels import METHOD_LABELS
from bot.domain.status import PENDING, Status, label
from bot.usecases.history import ReviewRequest
from bot.usecases.notifier import Change
from handlers.blocks.limits import MAX_FIELD, MAX_MESSAGE_BLOCKS
from handlers.text import (
    QUOTE_LIMIT,
    channel_label,
    clip,
    escape,
    journal_line,
    masked_contact,
    quote,
    redact,
    slack_date,
    user_mention,
)

ACTION_MARK_SENT = "message_mark_sent"
ACTION_SEND_AGAIN = "request_send_again"
ACTION_PAUSE = "request_pause"
ACTION_RESUME = "request_resume"
ACTION_CANCEL = "request_cancel"
ACTION_SEND_NOW = "request_send_now"
ACTIONS_BLOCK_ID = "request_actions"
DECISIONS_BLOCK_ID = "request_decisions"
ERASED_TEXT = "(deleted: this request's details were erased)"
DECISION_LABELS = {ACTION_MARK_SENT: "Mark as sent", ACTION_SEND_AGAIN: "Send again"}


def request_card_text(request: ReviewRequest, *, tz: str = "UTC") -> str:
    """Return the card's fallback text (notifications, screen readers, old clients)."""
    status = Status(request.status)
    who = escape(redact(f"{request.customer_name} ({masked_contact(request)})", request))
    text = f"#{request.number} {who} by {channel_label(request.channel)}: {status.value}"
    if status in PENDING and request.scheduled_at is not None:
        text += f", goes out {slack_date(request.scheduled_at, tz=tz)}"
    return clip(text)


def change_text(change: Change, request: ReviewRequest) -> str:
    """Write a change as its thread line in mrkdwn: masked, escaped, the customer's words quoted.

    Everything a use-case put in `change.text` may hold outside words, so it is escaped here,
    in the one place a change becomes Slack text (the reply, the alert and their fallbacks).
    """
    text, said = change.text, change.quote
    if said is not None and text.endswith(said):
        head = text[: len(text) - len(said)].rstrip()
        # Bounded before masking, so a long reply is read once by the masks' patterns.
        words = quote(redact(said.strip()[: QUOTE_LIMIT + 1], request))
        return f"{journal_line(redact(head, request), change.actor_id)}\n{words}"
    return journal_line(redact(text, request), change.actor_id)


def request_card_blocks(
    request: ReviewRequest, *, waiting: Collection[Status] = (), tz: str = "UTC"
) -> list[Block]:
    """Build the request card: who, how, when, status, and the buttons that still apply.

    `waiting` holds the statuses of the request's messages that have not gone out yet
    (queued, paused); without any, the card has no buttons. Times fall back to `tz`.
    """
    status = Status(request.status)
    title = f"*#{request.number}* · Review request for *{escape(request.customer_name)}*"
    if request.deleted_at is not None:
        title = f"*#{request.number}* · Deleted request"
    fields: list[str] = [
        f"*Contact*\n{escape(masked_contact(request))}",
        f"*Method*\n{escape(channel_label(request.channel))}"
        f" ({escape(METHOD_LABELS.get(request.method, request.method))})",
        f"*Requested by*\n{user_mention(request.created_by, request.created_by_name)}"
        + (" via Workflow Builder" if request.origin == "workflow" else ""),
        f"*Status*\n{label(status)}",
    ]
    if waiting and request.scheduled_at is not None:
        fields.append(f"*Goes out*\n{slack_date(request.scheduled_at, tz=tz)}")
    elif request.sent_at is not None:
        fields.append(f"*Sent*\n{slack_date(request.sent_at, tz=tz)}")
    if request.reference:
        fields.append(f"*Reference*\n{escape(request.reference)}")
    if request.last_error and status in (Status.FAILED, Status.UNDELIVERED, Status.UNKNOWN):
        fields.append(f"*Last error*\n{escape(request.last_error)}")
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text=clip(redact(title, request))),
            fields=[MarkdownTextObject(text=clip(redact(f, request), MAX_FIELD)) for f in fields],
        )
    ]
    buttons = request_buttons(request.number, waiting)
    if buttons:
        blocks.append(ActionsBlock(block_id=ACTIONS_BLOCK_ID, elements=buttons))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{request.review_type.capitalize()} review · "
                    f"created {slack_date(request.created_at, tz=tz)}"
                )
            ]
        )
    )
    return blocks[:MAX_MESSAGE_BLOCKS]


def request_buttons(number: int, waiting: Collection[Status]) -> list[ButtonElement]:
    """Return Pause or Resume (whichever applies), Send now and Cancel; none once all went out."""
    if not waiting:
        return []
    value = str(number)
    buttons: list[ButtonElement] = []
    if Status.QUEUED in waiting:
        buttons.append(ButtonElement(text="Pause", action_id=ACTION_PAUSE, value=value))
    elif Status.PAUSED in waiting:
        buttons.append(ButtonElement(text="Resume", action_id=ACTION_RESUME, value=value))
    buttons.append(
        ButtonElement(text="Send now", action_id=ACTION_SEND_NOW, value=value, style="primary")
    )
    buttons.append(
        ButtonElement(
            text="Cancel",
            action_id=ACTION_CANCEL,
            value=value,
            style="danger",
            confirm=ConfirmObject(
                title=f"Cancel #{number}?",
                text="Nothing more will be sent for this request. This can't be undone.",
                confirm="Cancel request",
                deny="Keep it",
                style="danger",
            ),
        )
    )
    return buttons


def decision_blocks(text: str, number: int) -> list[Block]:
    """Build a thread line that asks the team to decide, one button per decision.

    `text` is mrkdwn already (`change_text`).
    """
    buttons = [
        ButtonElement(text=label, action_id=action_id, value=str(number))
        for action_id, label in DECISION_LABELS.items()
    ]
    return [
        SectionBlock(text=MarkdownTextObject(text=clip(text))),
        ActionsBlock(block_id=DECISIONS_BLOCK_ID, elements=buttons),
    ]


def _alert_who(request: ReviewRequest) -> str:
    return escape(redact(f"{request.customer_name} ({masked_contact(request)})", request))


def alert_text(request: ReviewRequest, reason: str, thread_channel: str | None) -> str:
    """Return the fallback text of an alert about a request; `reason` is mrkdwn (`change_text`)."""
    where = f" (thread in <#{thread_channel}>)" if thread_channel else ""
    return clip(f":warning: #{request.number} {_alert_who(request)}: {reason}{where}")


def alert_blocks(request: ReviewRequest, reason: str, thread_channel: str | None) -> list[Block]:
    """Build an alert for the managers: which request, to whom (masked), and what went wrong.

    `reason` is mrkdwn already (`change_text`): masked and escaped.
    """
    body = f":warning: *#{request.number}* · {_alert_who(request)}\n{reason}"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(body)))]
    if thread_channel:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"Request #{request.number}'s thread: <#{thread_channel}>"
                    )
                ]
            )
        )
    return blocks
