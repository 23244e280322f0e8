"""Reading what a modal's author entered, and answering them once it is submitted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.domain.errors import InvalidInput
from bot.domain.timing import parse_when
from handlers.blocks.common import Reply

log = logging.getLogger(__name__)

# Where each picker keeps what was picked.
SELECTED = {
    "datetimepicker": "selected_date_time",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
}


def entered(values: Mapping[str, Any], block_id: str) -> Any:
    """Return what a block's element holds, whatever its type and action_id (None if empty)."""
    states = values.get(block_id) or {}
    element = next(iter(states.values()), None) or {}
    kind = element.get("type")
    if kind in ("static_select", "radio_buttons"):
        option = element.get("selected_option")
        return option.get("value") if option else None
    if kind in ("checkboxes", "multi_static_select"):
        return [o["value"] for o in element.get("selected_options") or []]
    if kind in SELECTED:
        selected = element.get(SELECTED[kind])
        return list(selected or []) if kind == "multi_users_select" else selected
    value = element.get("value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def picked_or_typed(
    values: dict[str, Any], *, now: datetime, timezone: str
) -> tuple[datetime | None, dict[str, str]]:
    """Read the time picked (in the viewer's timezone) or typed (in the workspace's).

    Returns the time (None when neither is given) and the errors by block.
    """
    stamp = entered(values, "at")
    typed = entered(values, "at_text")
    if stamp and typed:
        return None, {"at_text": "Pick a time or type one, not both."}
    if typed:
        try:
            return parse_when(typed, now=now, tz=timezone, field="at_text"), {}
        except InvalidInput as exc:
            return None, {"at_text": exc.message}
    return (datetime.fromtimestamp(int(stamp), UTC) if stamp else None), {}


def tell(
    client: WebClient, meta: dict[str, Any], user_id: str, reply: Reply, *, replace: bool = False
) -> None:
    """Answer the person who submitted a modal: through the response_url it was opened from,
    else as an ephemeral in its channel, else in a direct message."""
    url = meta.get("r")
    if url:
        response = WebhookClient(url).send(
            response_type="ephemeral", replace_original=replace, **reply.as_kwargs()
        )
        if response.status_code == 200:
            return
        log.warning("response_url answered %s; trying chat.postEphemeral", response.status_code)
    channel = meta.get("c")
    if channel:
        try:
            client.chat_postEphemeral(channel=channel, user=user_id, **reply.as_kwargs())
            return
        except SlackApiError as exc:
            log.warning("chat.postEphemeral failed: %s", exc.response.get("error"))
    client.chat_postMessage(channel=user_id, **reply.as_kwargs())
