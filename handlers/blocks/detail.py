"""Block Kit for one request's details: every field, its messages and its history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    SectionBlock,
)

from bot.domain.channels import METHOD_LABELS
from bot.domain.status import PENDING, Status, label
from bot.usecases.history import Message, ReviewRequest
from bot.usecases.inputs import RequestDetail
from handlers.blocks.common import Reply, dicts, md
from handlers.blocks.controls import customer_button
from handlers.blocks.limits import (
    MAX_FIELD,
    MAX_FIELDS,
    MAX_HEADER,
    MAX_MESSAGE_BLOCKS,
    MAX_TEXT,
)
from handlers.text import (
    LANGUAGE_LABELS,
    TYPE_LABELS,
    channel_label,
    clip,
    escape,
    slack_date,
    user_mention,
)


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


def message_line(message: Message, tz: str = "UTC") -> str:
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


def _request_fields(detail: RequestDetail) -> list[str]:
    """The request itself: who, what, when, how."""
    r = detail.request
    tz = detail.policy.timezone
    return [
        f"*Name*\n{escape(r.customer_name)}",
        f"*Email*\n{escape(r.email or '–')}",
        f"*Phone*\n{escape(r.phone or '–')}",
        f"*Reference*\n{escape(r.reference or '–')}",
        f"*Type*\n{TYPE_LABELS.get(r.review_type, r.review_type)} review",
        f"*Created*\n{_when(r.created_at, tz=tz)} by {user_mention(r.created_by, r.created_by_name)}",
        f"*Status*\n{label(Status(r.status))}",
        f"*Sent*\n{_when(r.sent_at, 'not yet', tz)}",
        f"*Reminder status*\n{reminder_status(detail)}",
        f"*Method*\n{escape(METHOD_LABELS.get(r.method, r.method))} (goes by {channel_label(r.channel)})",
    ]


def _consent(r: ReviewRequest, tz: str) -> str:
    """Say whether the sender confirmed the customer agreed to be contacted, when and who."""
    if r.consent_at is None:
        return "not confirmed"
    return f"confirmed {_when(r.consent_at, tz=tz)} by {user_mention(r.consent_by or '', '')}"


def _sending_fields(detail: RequestDetail, sender: SenderInfo) -> list[str]:
    """How it is sent: sender, reply-to, landing page, language, retries, what waits."""
    r = detail.request
    policy = detail.policy
    email_name = policy.email_from_name or policy.business_name or "–"
    sms_name = policy.sms_sender or sender.sms_from or "–"
    landing = policy.landing_url(r.review_type, r.language) or "not set"
    fields = [
        f"*Sender name*\n{escape(email_name)} (email) · {escape(sms_name)} (SMS)",
        f"*Sender email*\n{escape(policy.email_from or sender.email_from or '–')}",
        f"*Reply-to*\n{escape(policy.email_reply_to or sender.email_reply_to or '–')}",
        f"*Landing page*\n{escape(landing)}",
        f"*Language*\n{LANGUAGE_LABELS.get(r.language, r.language)}",
        f"*Retries*\n{r.retries}",
        f"*Asked from · consent*\n{escape(r.origin or 'not recorded')} · {_consent(r, policy.timezone)}",
    ]
    if r.scheduled_at is not None and any(Status(m.status) in PENDING for m in detail.messages):
        fields.append(f"*Goes out*\n{slack_date(r.scheduled_at, tz=policy.timezone)}")
    if r.last_error:
        fields.append(f"*Last error*\n{escape(r.last_error)}")
    return fields


def detail_reply(detail: RequestDetail, sender: SenderInfo) -> Reply:
    """Show every detail of a request and its messages (for the person who asked only)."""
    r = detail.request
    tz = detail.policy.timezone
    status = Status(r.status)
    fields_a = _request_fields(detail)
    fields_b = _sending_fields(detail, sender)
    title = f"#{r.number} · {r.customer_name}"
    if r.deleted_at is not None:
        title = f"#{r.number} · deleted"
    blocks: list[Block] = [
        HeaderBlock(text=clip(title, MAX_HEADER)),
        SectionBlock(fields=[md(clip(x, MAX_FIELD)) for x in fields_a[:MAX_FIELDS]]),
        SectionBlock(fields=[md(clip(x, MAX_FIELD)) for x in fields_b[:MAX_FIELDS]]),
    ]
    if detail.contact is not None and detail.contact.id is not None and r.deleted_at is None:
        button = customer_button(detail.contact.id, "Customer: all requests and messages")
        blocks.append(ActionsBlock(block_id="request_customer", elements=[button]))
    blocks += [
        DividerBlock(),
        SectionBlock(text=md(f"*Messages* ({len(detail.messages)})")),
    ]
    shown = detail.messages[-30:]
    if len(detail.messages) > len(shown):
        blocks.append(
            ContextBlock(elements=[md(f"{len(detail.messages) - len(shown)} older not shown")])
        )
    for message in shown:
        line = message_line(message, tz)
        paced = detail.paced.get(message.id or 0)
        if paced is not None:
            said = paced.sentence(slack_date(paced.expected_at, tz=tz), escape(paced.sender))
            line += f"\n> :hourglass_flowing_sand: {said}"
        window = detail.window.get(message.id or 0)
        if window is not None:
            line += f"\n> :calendar: {escape(window.sentence())}"
        quiet = detail.quiet.get(message.id or 0)
        if quiet is not None:
            line += f"\n> :crescent_moon: {escape(quiet.sentence())}"
        blocks.append(SectionBlock(text=md(line)))
    if not detail.messages:
        blocks.append(SectionBlock(text=md("No message.")))
    history = [
        f"{slack_date(e.at, '{date_short} {time}', tz=tz)} {e.kind.replace('_', ' ')}"
        + (f" by {_actor(e.actor, e.detail)}" if e.actor else "")
        + (f": {escape(str(e.detail['reason']))}" if e.detail.get("reason") else "")
        for e in detail.events[-15:]
    ]
    if history:
        blocks.append(ContextBlock(elements=[md("*History*\n" + "\n".join(history))]))
    text = f"#{r.number} {escape(r.customer_name)}: {status.value}"
    return Reply(clip(text, MAX_TEXT), dicts(blocks[:MAX_MESSAGE_BLOCKS]))


def _actor(actor: str, detail: Mapping[str, Any]) -> str:
    return user_mention(actor, str(detail.get("actor_name") or ""))
