"""The Notifier port for Slack: each change to a request becomes Slack outbox rows.

Nothing here calls Slack. Rows are written inside the caller's transaction, so a change and
what the team is told about it commit (or roll back) together; scheduler/outbox.py posts
them later, in order and paced.

Row kinds and payloads (all JSON):
- ``root``: the request card, posted once; the job stores its channel and ts on the request.
  ``{"text", "blocks"}``
- ``reply``: one line in the request's thread. ``{"text", "request_id"}``, and
  ``"reply_broadcast": true`` for an alert shown in the channel too.
- ``update``: the root card redrawn to the current status. ``{"text", "blocks", "request_id"}``
- ``alert``: a message to the workspace's alert channel. ``{"text", "blocks", "request_id",
  "number"}``; the job adds a link to the thread when the root has been posted.
- ``erase``: a posted reply or alert of a deleted request, overwritten. ``{"ts", "text"}``
Once posted, reply and alert rows remember ``"posted": {"channel", "ts"}`` for that.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.domain.contacts import mask_contact, mask_email, mask_phone
from bot.domain.policy import WorkspacePolicy
from bot.domain.status import PENDING, Status, label
from bot.domain.timing import slack_date_token
from bot.requests import METHOD_LABELS
from bot.usecases.notifier import Change
from store.models import Message, ReviewRequest, SlackOutbox, Workspace

# Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_FIELD = 2000
MAX_BUTTON_TEXT = 75

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

CHANNEL_LABELS = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "Email"}

_EMAIL_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# An international number as providers quote it: "+33 6 12 34 56 78", "+15005550006".
_PHONE_RE = re.compile(r"\+\d[\d\s().-]{5,20}\d")


# --- pure text helpers ----------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Cut a text to a Block Kit limit, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(when: datetime, fmt: str = "{date_short_pretty} {time}", *, tz: str = "UTC") -> str:
    """Format a time for Slack to show in each reader's timezone, falling back to `tz`'s."""
    return slack_date_token(when, tz, fmt)


def masked_contact(request: ReviewRequest) -> str:
    """Return the request's contact with the phone and email masked ("–" when erased)."""
    return mask_contact(request.phone, request.email) or "–"


def redact(text: str, request: ReviewRequest | None = None) -> str:
    """Mask every phone number and email address in a text meant for a Slack channel."""
    if request is not None:
        if request.phone:
            text = text.replace(request.phone, mask_phone(request.phone))
        if request.email:
            text = re.sub(re.escape(request.email), mask_email(request.email), text, flags=re.I)
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE_RE.sub(lambda m: _mask_quoted_phone(m.group(0)), text)


def _mask_quoted_phone(raw: str) -> str:
    return mask_phone("+" + re.sub(r"\D", "", raw))


def channel_label(channel: str) -> str:
    """Say how a request goes out: "SMS", "SMS + Email"."""
    return " + ".join(CHANNEL_LABELS.get(c, c) for c in channel.split("+") if c)


# --- pure Block Kit builders ----------------------------------------------------------------


def request_card_text(request: ReviewRequest, *, tz: str = "UTC") -> str:
    """Return the card's fallback text (notifications, screen readers, old clients)."""
    status = Status(request.status)
    text = (
        f"#{request.number} {request.customer_name} ({masked_contact(request)}) "
        f"by {channel_label(request.channel)}: {status.value}"
    )
    if status in PENDING and request.scheduled_at is not None:
        text += f", goes out {slack_date(request.scheduled_at, tz=tz)}"
    return clip(redact(text, request))


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
        f"*Requested by*\n{_user(request.created_by, request.created_by_name)}",
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
    return blocks[:MAX_BLOCKS]


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
    """Build a thread line that asks the team to decide, one button per decision."""
    buttons = [
        ButtonElement(text=label, action_id=action_id, value=str(number))
        for action_id, label in DECISION_LABELS.items()
    ]
    return [
        SectionBlock(text=MarkdownTextObject(text=clip(text))),
        ActionsBlock(block_id=DECISIONS_BLOCK_ID, elements=buttons),
    ]


def alert_text(request: ReviewRequest, reason: str, thread_channel: str | None) -> str:
    """Return the fallback text of an alert about a request."""
    where = f" (thread in <#{thread_channel}>)" if thread_channel else ""
    return clip(
        redact(
            f":warning: #{request.number} {request.customer_name} ({masked_contact(request)}): "
            f"{reason}{where}",
            request,
        )
    )


def alert_blocks(request: ReviewRequest, reason: str, thread_channel: str | None) -> list[Block]:
    """Build an alert for the managers: which request, to whom (masked), and what went wrong."""
    body = (
        f":warning: *#{request.number}* · {escape(request.customer_name)} "
        f"({escape(masked_contact(request))})\n{escape(reason)}"
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(redact(body, request))))]
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


def _user(user_id: str, name: str) -> str:
    if user_id.startswith(("U", "W")) and user_id[1:].isalnum() and user_id.isupper():
        return f"<@{user_id}>"
    return escape(name or user_id)


def _dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


# --- the port -------------------------------------------------------------------------------


class SlackNotifier:
    """Write Slack outbox rows for a request's changes, in the caller's transaction."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        """Queue the card, the thread reply, the card update and any alert this change needs."""
        assert request.id is not None
        workspace = session.get(Workspace, request.workspace_id)
        if workspace is None:
            return
        policy = WorkspacePolicy.model_validate(workspace.policy)
        now = self.clock.now()
        waiting = _waiting(session, request)
        text = redact(change.text, request)

        thread_channel = request.slack_channel or _root_channel(session, request.id)
        posted_card = False
        if thread_channel is None and request.deleted_at is None:
            # First change with somewhere to say it: start the thread with the current card.
            thread_channel = policy.notify_channel or request.origin_channel
            if thread_channel:
                self._add(
                    session,
                    request,
                    "root",
                    thread_channel,
                    _card(request, waiting, policy.timezone),
                    now,
                )
                posted_card = True

        decisions = _dicts(decision_blocks(text, request.number))
        if thread_channel and change.kind != "created":
            reply: dict[str, Any] = {"text": clip(text), "request_id": request.id}
            if change.decision_needed:
                reply["blocks"] = decisions
            self._add(session, request, "reply", thread_channel, reply, now)
            if not posted_card:
                payload = {**_card(request, waiting, policy.timezone), "request_id": request.id}
                self._add(session, request, "update", thread_channel, payload, now)

        if change.alert:
            if policy.alert_channel:
                payload = {
                    "text": alert_text(request, text, thread_channel),
                    "blocks": _dicts(alert_blocks(request, text, thread_channel))
                    + (decisions[1:] if change.decision_needed else []),
                    "request_id": request.id,
                    "number": request.number,
                }
                self._add(session, request, "alert", policy.alert_channel, payload, now)
            elif thread_channel:
                payload = {
                    "text": alert_text(request, text, None),
                    "request_id": request.id,
                    "reply_broadcast": True,
                }
                self._add(session, request, "reply", thread_channel, payload, now)

    def forget(self, session: Session, request: ReviewRequest) -> None:
        """Erase what the outbox kept of a deleted request; drop what it had not posted yet.

        Posted rows keep their status and lose their text; the replies and alerts they put in
        Slack are overwritten by `erase` rows. Rows still waiting are settled unposted: they
        carry the name; the "deleted" reply and card that follow replace them.
        """
        now = self.clock.now()
        for row in session.exec(
            select(SlackOutbox).where(SlackOutbox.request_id == request.id)
        ).all():
            posted = row.payload.get("posted") if row.status == "done" else None
            row.payload = {"erased": True}
            if row.status == "pending":
                row.status = "done"
                row.done_at = now
                row.last_error = "not posted: the request was deleted"
            session.add(row)
            if posted:
                # A thread reply or alert already in Slack may quote the customer: erase it.
                self._add(
                    session,
                    request,
                    "erase",
                    str(posted["channel"]),
                    {"ts": posted["ts"], "text": ERASED_TEXT},
                    now,
                )
        session.flush()

    def _add(
        self,
        session: Session,
        request: ReviewRequest,
        kind: str,
        channel: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        session.add(
            SlackOutbox(
                workspace_id=request.workspace_id,
                request_id=request.id,
                kind=kind,
                channel=channel,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
        )
        # Give rows ids now, so the outbox's id order is the order of the changes.
        session.flush()


def _card(request: ReviewRequest, waiting: Collection[Status], tz: str) -> dict[str, Any]:
    return {
        "text": request_card_text(request, tz=tz),
        "blocks": _dicts(request_card_blocks(request, waiting=waiting, tz=tz)),
    }


def _waiting(session: Session, request: ReviewRequest) -> set[Status]:
    statuses = session.exec(select(Message.status).where(Message.request_id == request.id)).all()
    return {Status(s) for s in statuses} & PENDING


def _root_channel(session: Session, request_id: int) -> str | None:
    return session.exec(
        select(SlackOutbox.channel)
        .where(SlackOutbox.request_id == request_id, SlackOutbox.kind == "root")
        .order_by(col(SlackOutbox.id))
        .limit(1)
    ).first()
