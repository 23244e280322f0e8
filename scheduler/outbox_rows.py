"""What one Slack outbox row asks of Slack, and how a row is settled (scheduler/outbox.py).

Read in the lease's transaction: a card posted once, a reply or update needing its card, an
update superseded by a later one, an alert linking to the request's thread.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject
from sqlmodel import Session, col, select

from store.models import ReviewRequest, SlackOutbox
from store.outbox_settle import settle

log = logging.getLogger(__name__)

PENDING, DONE, DEAD = "pending", "done", "dead"
EDITS = ("update", "erase")  # chat.update; every other kind is a chat.postMessage
ROOT_LOST = "the request's card was never posted, so its thread doesn't exist"


def thread_link(channel: str, ts: str) -> str:
    """Return a link to a message, in the form of Slack's permalinks."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def superseded(session: Any, row: SlackOutbox) -> bool:
    later = session.exec(
        select(SlackOutbox.id).where(
            SlackOutbox.request_id == row.request_id,
            SlackOutbox.kind == "update",
            SlackOutbox.status == PENDING,
            col(SlackOutbox.id) > row.id,
        )
    ).first()
    return later is not None


def post_args(
    session: Session, row: SlackOutbox, request: ReviewRequest | None, now: datetime
) -> dict[str, Any] | None:
    """Return the Web API arguments that post a row; None when the row was settled without one."""
    payload = row.payload
    args: dict[str, Any] = {"channel": row.channel, "text": payload.get("text", "")}
    if payload.get("blocks"):
        args["blocks"] = payload["blocks"]

    if row.kind == "root":
        if request is not None and request.slack_ts:
            settle(row, DONE, now)  # already posted: post a card only once
            return None
        args.update(unfurl_links=False, unfurl_media=False)
    elif row.kind in ("reply", "update"):
        if request is None or not request.slack_ts or not request.slack_channel:
            settle(row, DEAD, now, ROOT_LOST)
            log.warning("slack outbox row %s dead: %s", row.id, ROOT_LOST)
            return None
        if row.kind == "update" and superseded(session, row):
            settle(row, DONE, now)  # a later update draws the card as it is now
            return None
        args["channel"] = request.slack_channel
        if row.kind == "reply":
            args["thread_ts"] = request.slack_ts
            if payload.get("reply_broadcast"):
                args["reply_broadcast"] = True
            args.update(unfurl_links=False, unfurl_media=False)
        else:
            args["ts"] = request.slack_ts
    elif row.kind == "erase":
        args.update(ts=payload["ts"], blocks=[])
    elif row.kind == "alert":
        if request is not None and request.slack_ts and request.slack_channel:
            link = thread_link(request.slack_channel, request.slack_ts)
            label = f"Open #{request.number}'s thread"
            args["text"] = f"{args['text']} <{link}|{label}>"
            args["blocks"] = [
                *args.get("blocks", []),
                ContextBlock(elements=[MarkdownTextObject(text=f"<{link}|{label}>")]).to_dict(),
            ]
        args.update(unfurl_links=False, unfurl_media=False)
    return args
