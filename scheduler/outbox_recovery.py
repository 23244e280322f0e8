"""Find a Slack post that Slack stored although its answer was lost (a 5xx or a timeout).

Every post the outbox makes carries message metadata naming its outbox row. Before posting a
row again after such an answer, the outbox looks for that metadata in the channel's latest
messages (a root or an alert) or in the request's thread (a reply) and adopts the post found.
The look-up needs the history scopes (channels:history, groups:history, im:history); when Slack
refuses it (missing scope, not in the channel), the row is posted again: at least once.

A worker that lost its lease mid-call (frozen, slow) and then hears that its post was made
settles that post with `settle_lost_post`: kept if it is the one the row was finished with,
deleted if the row was finished with another post, left when the row is still pending.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from scheduler.outbox_rows import EDITS, PENDING
from store.db import Database
from store.models import ReviewRequest, SlackOutbox

log = logging.getLogger(__name__)

EVENT_TYPE = "reviewops_post"
# How far back in a channel to look: a retry comes minutes after the lost answer.
HISTORY_LIMIT = 100
# Look-up answers that will not change by retrying: post again instead.
CANNOT_LOOK = frozenset(
    {"missing_scope", "not_in_channel", "channel_not_found", "thread_not_found", "not_allowed"}
)


def marked(args: dict[str, Any], row_id: int) -> dict[str, Any]:
    """Return chat.postMessage arguments carrying the outbox row's id as message metadata."""
    metadata = {"event_type": EVENT_TYPE, "event_payload": {"outbox_id": row_id}}
    return {**args, "metadata": metadata}


def find_earlier_post(
    client: WebClient, args: dict[str, Any], row_id: int
) -> dict[str, Any] | None:
    """Return {"channel", "ts"} of the row's post if Slack already holds it, else None.

    :raise SlackApiError: Slack could not answer now (5xx, 429): try the row later.
    """
    channel = str(args["channel"])
    try:
        if args.get("thread_ts"):
            response = client.conversations_replies(
                channel=channel, ts=args["thread_ts"], include_all_metadata=True, limit=1000
            )
        else:
            response = client.conversations_history(
                channel=channel, include_all_metadata=True, limit=HISTORY_LIMIT
            )
    except SlackApiError as exc:
        error = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
        if error not in CANNOT_LOOK:
            raise
        log.warning("slack outbox row %s: can't look for its earlier post (%s)", row_id, error)
        return None
    for message in response.data.get("messages") or []:  # type: ignore[union-attr]
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == EVENT_TYPE and payload.get("outbox_id") == row_id:
            return {"channel": channel, "ts": message["ts"]}
    return None


def settle_lost_post(
    db: Database, client: WebClient, row_id: int, kind: str, posted: dict[str, Any]
) -> None:
    """Settle a post made by a worker that lost the row's lease before marking it done.

    The row was re-taken by another worker (its lease ran out) or settled meanwhile. That
    worker looked for this post first (the row was in doubt since it was taken) and may have
    adopted it; if it finished the row with another post, this one is a duplicate that would
    split the thread or repeat a reply: delete it. While the row is still pending, its holder
    may yet adopt this post (or already posted its own): leave it, never risk deleting the
    card a thread follows.
    """
    if kind in EDITS or not posted.get("ts"):
        return  # an edit is repeatable: nothing to undo
    with db.read() as session:
        row = session.get(SlackOutbox, row_id)
        if row is None or row.status == PENDING:
            log.warning("slack outbox row %s: lease lost after posting %s", row_id, posted)
            return
        if kind == "root":
            request = session.get(ReviewRequest, row.request_id) if row.request_id else None
            kept = request.slack_ts if request is not None else None
        else:
            kept = (row.payload.get("posted") or {}).get("ts")
    if kept == posted["ts"]:
        return  # the row's finisher found this post and adopted it
    try:
        client.chat_delete(channel=posted["channel"], ts=posted["ts"])
        log.info("slack outbox row %s: deleted a stale worker's second post", row_id)
    except SlackApiError as exc:
        log.warning("slack outbox row %s: can't delete a second post (%s)", row_id, exc)
