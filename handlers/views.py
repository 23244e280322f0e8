"""Modal submissions: send a request, reschedule one, filter the list.

Submissions validate before they ack: a wrong field is answered with
`response_action="errors"` on that field's block, and nothing is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from slack_bolt import Ack, App
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import Conflict, DomainError
from bot.usecases.inputs import Method, RequestCreate, ReviewType
from handlers.blocks.common import read_metadata, text_reply
from handlers.blocks.listing import FILTER_MODAL
from handlers.blocks.send import RESCHEDULE_MODAL, SEND_MODAL, created_reply, created_why
from handlers.commands import render_list
from handlers.delivery_keys import submission_key
from handlers.errors import field_errors, field_refusals
from handlers.home import publish_home
from handlers.modal_input import entered, picked_or_typed, tell
from handlers.parsing import PageState, parse_list_query
from handlers.surface import Registered, actor_of, services
from handlers.text import slack_date

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
    "consent": "consent",
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


def _values(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body["view"]["state"]["values"])


def _time_block(values: dict[str, Any]) -> str:
    """Name the block the time came from: typed, else picked."""
    return "at_text" if entered(values, "at_text") else "at"


def _when_choice(values: dict[str, Any]) -> str:
    choice = entered(values, "when") or "delay"
    picked = entered(values, "at") or entered(values, "at_text")
    # A picked time is what the user wants, even with the default choice.
    return "at" if choice == "delay" and picked else str(choice)


def _when_problems(values: dict[str, Any], at: datetime | None) -> dict[str, str]:
    choice = entered(values, "when") or "delay"
    if choice == "at" and at is None:
        return {"at": "Pick the date and time to send it, or type it below."}
    if choice == "now" and at is not None:
        where = _time_block(values)
        return {where: 'You chose to send now: clear the time, or choose "At a date and time".'}
    return {}


def _send_refusal(exc: DomainError, body: dict[str, Any]) -> dict[str, str]:
    if isinstance(exc, Conflict):
        return {"override": f"{exc.message} Tick the box to send anyway."}
    values = _values(body)
    where = _time_block(values)
    timed = _when_choice(values) == "at"
    mapping = {**SEND_FIELDS, "when": where if timed else "when", "at": where}
    if not _has_block(body, "consent"):  # require_consent was turned on after the form opened
        mapping["consent"] = "name"
    return field_errors(exc, mapping, where if timed else "name")


def _has_block(body: dict[str, Any], block_id: str) -> bool:
    return any(b.get("block_id") == block_id for b in body["view"].get("blocks") or [])


def _request_create(body: dict[str, Any], at: datetime | None) -> RequestCreate:
    values = _values(body)
    meta = read_metadata(body["view"].get("private_metadata"))
    return RequestCreate(
        name=entered(values, "name"),
        phone=entered(values, "phone"),
        email=entered(values, "email"),
        method=cast(Method | None, entered(values, "method")),
        review_type=cast(ReviewType, entered(values, "review_type") or "service"),
        reference=entered(values, "reference"),
        when=cast(Literal["now", "delay", "at"], _when_choice(values)),
        at=at,
        language=entered(values, "language"),
        override_cooldown="override" in (entered(values, "override") or []),
        consent="consent" in (entered(values, "consent") or []),
        origin="slack",
        # From the Home tab there is no channel: the request's thread goes to the
        # sender's direct messages with the app, unless a notify channel is set.
        origin_channel=meta.get("c") or actor_of(body).id,
    )


@field_refusals(_send_refusal)
def send_submitted(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Create the request the send modal describes; confirm it to the person who asked."""
    surface = services(context)
    values = _values(body)
    ws = surface.workspace_id(context)
    tz = surface.ops.policy(ws).timezone
    at, errors = picked_or_typed(values, now=surface.app.clock.now(), timezone=tz)
    errors = errors or _when_problems(values, at)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    user = actor_of(body)
    # Once per submission: a double click or a retry gets a quiet ack (handlers/errors.py).
    data = _request_create(body, at)
    request = surface.ops.create(ws, data, user, key=submission_key(body))
    ack()
    meta = read_metadata(body["view"].get("private_metadata"))
    policy = surface.ops.policy(ws)
    reply = created_reply(request, tz=policy.timezone, why=created_why(data, request, policy))
    tell(client, meta, user.id, reply)
    if meta.get("h"):  # opened from the Home tab: show the new request there too
        publish_home(surface, client, ws, user.id)


@field_refusals(lambda exc, body: {_time_block(_values(body)): exc.message})
def reschedule_submitted(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Move the request's waiting messages to the time given; confirm it."""
    surface = services(context)
    meta = read_metadata(body["view"].get("private_metadata"))
    values = _values(body)
    ws = surface.workspace_id(context)
    tz = surface.ops.policy(ws).timezone
    at, errors = picked_or_typed(values, now=surface.app.clock.now(), timezone=tz)
    if not errors and at is None:
        errors = {"at": "Pick the new date and time, or type it below."}
    if errors or at is None:
        ack(response_action="errors", errors=errors)
        return
    number = int(meta.get("n", 0))
    request = surface.ops.reschedule(ws, number, at, actor_of(body))
    ack()
    when = slack_date(request.scheduled_at, tz=tz) if request.scheduled_at else "now"
    reply = text_reply(f":white_check_mark: #{number} rescheduled: it goes out {when}.")
    tell(client, meta, actor_of(body).id, reply)


def _filter_query(values: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Write the filter modal's fields as a list query; name the fields that can't be one."""
    parts: list[str] = []
    errors: dict[str, str] = {}
    statuses = entered(values, "status") or []
    if statuses:
        parts.append("status:" + ",".join(statuses))
    for key in ("via", "type", "by", "from", "to"):
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
    return " ".join(parts), errors


@field_refusals(lambda exc, body: field_errors(exc, FILTER_FIELDS, "text"))
def filter_submitted(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Redraw the list page with the filter the modal describes."""
    surface = services(context)
    meta = read_metadata(body["view"].get("private_metadata"))
    user_id = actor_of(body).id
    query, errors = _filter_query(_values(body))
    kept = str(meta.get("k") or "")  # import:, sent_from:, sent_to: (no field of their own)
    query = f"{query} {kept}".strip()
    ws = surface.workspace_id(context)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    parse_list_query(query, timezone=surface.ops.policy(ws).timezone, user_id=user_id)
    ack()
    page = render_list(
        surface,
        ws,
        user_id,
        PageState(query),
        admin=lambda policy: surface.is_admin(client, context, user_id, policy),
    )
    tell(client, meta, user_id, page, replace=True)


def register(bolt: App, registered: Registered) -> None:
    """Listen to the submissions of the send, reschedule and filter modals."""
    bolt.view(SEND_MODAL)(send_submitted)
    bolt.view(RESCHEDULE_MODAL)(reschedule_submitted)
    bolt.view(FILTER_MODAL)(filter_submitted)
    registered.views += [SEND_MODAL, RESCHEDULE_MODAL, FILTER_MODAL]
