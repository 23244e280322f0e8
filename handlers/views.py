"""Modal submissions: send a request, reschedule one, filter the list.

Submissions validate before they ack: a wrong field is answered with
`response_action="errors"` on that field's block, and nothing is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, cast

from slack_bolt import App
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.domain.errors import Conflict, DomainError, InvalidInput
from bot.domain.timing import parse_when
from bot.requests import Method, RequestCreate, ReviewType
from handlers.blocks.common import INPUT, Reply, read_metadata, text_reply
from handlers.blocks.listing import FILTER_MODAL
from handlers.blocks.send import RESCHEDULE_MODAL, SEND_MODAL, created_reply
from handlers.home import publish_home
from handlers.parsing import PageState, parse_list_query
from handlers.surface import Surface, actor_of
from handlers.text import slack_date

log = logging.getLogger(__name__)

Ack = Callable[..., None]

# Where each field a use-case names is shown in the send modal.
SEND_FIELDS = {
    "name": "name",
    "phone": "phone",
    "email": "email",
    "method": "method",
    "review_type": "review_type",
    "type": "review_type",
    "reference": "reference",
    "language": "language",
    "when": "when",
    "at": "at",
}
FILTER_FIELDS = {
    "status": "status",
    "via": "via",
    "by": "by",
    "from": "from",
    "to": "to",
    "type": "type",
    "ref": "ref",
    "text": "text",
    "filter": "text",
}


def entered(values: dict[str, Any], block_id: str) -> Any:
    """Return what the user entered in a block's element, whatever its type (None if empty)."""
    element = values.get(block_id, {}).get(INPUT) or {}
    kind = element.get("type")
    if kind in ("static_select", "radio_buttons"):
        option = element.get("selected_option")
        return option.get("value") if option else None
    if kind in ("checkboxes", "multi_static_select"):
        return [o["value"] for o in element.get("selected_options") or []]
    if kind == "datetimepicker":
        return element.get("selected_date_time")
    if kind == "datepicker":
        return element.get("selected_date")
    if kind == "users_select":
        return element.get("selected_user")
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


def field_errors(exc: DomainError, mapping: dict[str, str], default: str) -> dict[str, str]:
    """Spread a domain error over the modal's blocks, one message per field."""
    errors = exc.errors or {exc.field or default: exc.message}
    out: dict[str, str] = {}
    for name, message in errors.items():
        block = mapping.get(name, default)
        out[block] = f"{out[block]} {message}" if block in out else message
    return out


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


def register(bolt: App, surface: Surface) -> None:
    """Listen to the submissions of the send, reschedule and filter modals."""

    @bolt.view(SEND_MODAL)
    def send_submitted(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        view = body["view"]
        values = view["state"]["values"]
        meta = read_metadata(view.get("private_metadata"))
        choice = entered(values, "when") or "delay"
        ws = surface.workspace_id(context)
        at, errors = picked_or_typed(
            values, now=surface.app.clock.now(), timezone=surface.ops.policy(ws).timezone
        )
        where = "at_text" if entered(values, "at_text") else "at"
        if not errors and choice == "at" and at is None:
            errors["at"] = "Pick the date and time to send it, or type it below."
        elif not errors and choice == "now" and at is not None:
            errors[where] = 'You chose to send now: clear the time, or choose "At a date and time".'
        if at is not None and choice == "delay":
            choice = "at"  # a picked time is what the user wants, even with the default choice
        if errors:
            ack(response_action="errors", errors=errors)
            return
        data = RequestCreate(
            name=entered(values, "name"),
            phone=entered(values, "phone"),
            email=entered(values, "email"),
            method=cast(Method | None, entered(values, "method")),
            review_type=cast(ReviewType, entered(values, "review_type") or "service"),
            reference=entered(values, "reference"),
            when=cast(Literal["now", "delay", "at"], choice),
            at=at,
            language=entered(values, "language"),
            override_cooldown="override" in (entered(values, "override") or []),
            # From the Home tab there is no channel: the request's thread goes to the
            # sender's direct messages with the app, unless a notify channel is set.
            origin_channel=meta.get("c") or actor_of(body).id,
        )
        try:
            request = surface.ops.create(ws, data, actor_of(body))
        except Conflict as exc:
            ack(
                response_action="errors",
                errors={"override": f"{exc.message} Tick the box to send anyway."},
            )
            return
        except DomainError as exc:
            default = where if choice == "at" else "name"
            mapping = {**SEND_FIELDS, "when": where if choice == "at" else "when", "at": where}
            ack(response_action="errors", errors=field_errors(exc, mapping, default))
            return
        ack()
        tz = surface.ops.policy(ws).timezone
        tell(client, meta, actor_of(body).id, created_reply(request, tz=tz))
        if meta.get("h"):  # opened from the Home tab: show the new request there too
            publish_home(surface, client, ws, actor_of(body).id)

    @bolt.view(RESCHEDULE_MODAL)
    def reschedule_submitted(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        view = body["view"]
        meta = read_metadata(view.get("private_metadata"))
        values = view["state"]["values"]
        ws = surface.workspace_id(context)
        tz = surface.ops.policy(ws).timezone
        at, errors = picked_or_typed(values, now=surface.app.clock.now(), timezone=tz)
        if not errors and at is None:
            errors = {"at": "Pick the new date and time, or type it below."}
        if errors or at is None:
            ack(response_action="errors", errors=errors)
            return
        where = "at_text" if entered(values, "at_text") else "at"
        number = int(meta.get("n", 0))
        try:
            request = surface.ops.reschedule(ws, number, at, actor_of(body))
        except DomainError as exc:
            ack(response_action="errors", errors={where: exc.message})
            return
        ack()
        when = slack_date(request.scheduled_at, tz=tz) if request.scheduled_at else "now"
        tell(
            client,
            meta,
            actor_of(body).id,
            text_reply(f":white_check_mark: #{number} rescheduled: it goes out {when}."),
        )

    @bolt.view(FILTER_MODAL)
    def filter_submitted(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        from handlers.commands import render_list

        view = body["view"]
        values = view["state"]["values"]
        meta = read_metadata(view.get("private_metadata"))
        user_id = actor_of(body).id
        parts: list[str] = []
        errors: dict[str, str] = {}
        statuses = entered(values, "status") or []
        if statuses:
            parts.append("status:" + ",".join(statuses))
        for key in ("via", "type"):
            if entered(values, key):
                parts.append(f"{key}:{entered(values, key)}")
        if entered(values, "by"):
            parts.append(f"by:{entered(values, 'by')}")
        for key in ("from", "to"):
            if entered(values, key):
                parts.append(f"{key}:{entered(values, key)}")
        ref = entered(values, "ref")
        if ref:
            if " " in ref:
                errors["ref"] = "A reference has no spaces."
            parts.append(f"ref:{ref}")
        text = entered(values, "text")
        if text:
            if ":" in text:
                errors["text"] = 'Search for a name, email or phone (without ":").'
            parts.append(text)
        ws = surface.workspace_id(context)
        query = " ".join(parts)
        if not errors:
            try:
                parse_list_query(query, timezone=surface.ops.policy(ws).timezone, user_id=user_id)
            except InvalidInput as exc:
                errors = field_errors(exc, FILTER_FIELDS, "text")
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        admin = surface.permissions.is_admin(client, ws, str(context.team_id or ""), user_id)
        page = render_list(surface, ws, user_id, PageState(query), admin=admin)
        tell(client, meta, user_id, page, replace=True)

    surface.registered.views += [SEND_MODAL, RESCHEDULE_MODAL, FILTER_MODAL]
