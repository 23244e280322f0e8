"""Find a Slack post that Slack stored although its answer was lost (a 5xx or a timeout).

Every post the outbox makes carries message metadata naming its outbox row. Before posting a
row again after such an answer, the outbox looks for that metadata in the channel's latest
messages (a root or an alert) or in the request's thread (a reply) and adopts the post found.
The look-up needs the history scopes (channels:history, groups:history, im:history); when Slack
refuses it (missing scope, not in the channel), the row is posted again: at least once.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

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
