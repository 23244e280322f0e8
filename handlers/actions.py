"""Buttons and menus: the request card's buttons in channel threads, and the list's controls.

Every listener is acked before it runs (it names no `ack`: handlers/errors.py). Controls on
an ephemeral list page answer through `respond()` (the response_url); buttons on a channel's
request card answer the clicker with an ephemeral message, while the card itself is redrawn
by the notifier and the outbox.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import InvalidInput
from bot.domain.numbers import parse_number
from bot.usecases.inputs import BulkResult
from handlers.blocks.card import ACTION_CANCEL, ACTION_PAUSE, ACTION_RESUME, ACTION_SEND_NOW
from handlers.blocks.common import Reply, metadata, text_reply
from handlers.blocks.customer import delete_prompt
from handlers.blocks.detail import detail_reply
from handlers.blocks.listing import (
    CANCEL_ALL_CONFIRM,
    CANCEL_ALL_KEEP,
    LIST_CLEAR,
    LIST_COUNT,
    LIST_FILTER,
    LIST_NEXT,
    LIST_PREV,
    LIST_REFRESH,
    ROW_CANCEL_CONFIRM,
    ROW_CANCEL_KEEP,
    ROW_DETAILS,
    ROW_MENU,
    bulk_reply,
    cancel_all_prompt,
    filter_modal,
    row_cancel_prompt,
)
from handlers.blocks.send import reschedule_modal
from handlers.commands import render_list
from handlers.edit import open_edit
from handlers.errors import anywhere, below, in_place, refusals, to_clicker
from handlers.parsing import PageState, parse_list_query
from handlers.permissions import refusal
from handlers.surface import Registered, Surface, actor_of, first_action, services
from handlers.text import escape, slack_date

log = logging.getLogger(__name__)

CARD_ACTIONS = (ACTION_PAUSE, ACTION_RESUME, ACTION_CANCEL, ACTION_SEND_NOW)
LIST_PAGING = (LIST_PREV, LIST_NEXT, LIST_REFRESH, LIST_CLEAR)
COUNT_KEYS = ("sent", "opened", "clicked", "failed")


def _card_result(
    surface: Surface, ws: int, action_id: str, number: int, body: dict[str, Any]
) -> str:
    actor = actor_of(body)
    result: BulkResult
    if action_id == ACTION_PAUSE:
        result = surface.ops.pause(ws, [number], actor)
        verb = "paused"
    elif action_id == ACTION_RESUME:
        result = surface.ops.resume(ws, [number], actor)
        verb = "resumed"
    elif action_id == ACTION_CANCEL:
        result = surface.ops.cancel(ws, [number], actor)
        verb = "canceled"
    else:
        request = surface.ops.send_now(ws, number, actor)
        tz = surface.ops.policy(ws).timezone
        when = slack_date(request.scheduled_at, tz=tz) if request.scheduled_at else "now"
        return f":outbox_tray: #{number} goes out {when}."
    return bulk_reply(result, verb).text


@refusals(to_clicker)
def card_button(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Pause, resume, cancel or send now from a request card; tell only the clicker."""
    surface = services(context)
    action = first_action(body)
    text = _card_result(
        surface,
        surface.workspace_id(context),
        action["action_id"],
        parse_number(str(action.get("value", ""))),
        body,
    )
    channel = (body.get("channel") or {}).get("id") or ""
    client.chat_postEphemeral(channel=channel, user=actor_of(body).id, text=text)


@refusals(in_place)
def show_page(
    body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Redraw the list page for a paging, count or clear button."""
    surface = services(context)
    user = actor_of(body).id
    state = PageState.decode(str(first_action(body).get("value", "")))
    ws = surface.workspace_id(context)
    reply = render_list(
        surface,
        ws,
        user,
        state,
        admin=lambda policy: surface.is_admin(client, context, user, policy),
    )
    respond(replace_original=True, **reply.as_kwargs())


# Filter words the modal has no field for: kept as typed and added back to what it submits.
UNSHOWN_FILTERS = ("import:", "sent_from:", "sent_to:")
MAX_KEPT = 200  # characters of such words carried in the modal's metadata


def kept_words(query: str) -> str | None:
    """The words of a list query the filter modal does not show (None: there are none)."""
    words = [w for w in query.split() if w.lower().startswith(UNSHOWN_FILTERS)]
    kept = " ".join(words)[:MAX_KEPT]
    return kept or None


@refusals(below)
def open_filter(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Open the filter modal, filled with the list page's current filter."""
    surface = services(context)
    policy = surface.ops.policy(surface.workspace_id(context))
    state = PageState.decode(str(first_action(body).get("value", "")))
    query = parse_list_query(
        state.query, timezone=policy.timezone, user_id=actor_of(body).id, region=policy.region
    )
    view = filter_modal(
        query.filter,
        timezone=policy.timezone,
        private_metadata=metadata(
            r=body.get("response_url"),
            c=(body.get("channel") or {}).get("id"),
            k=kept_words(state.query),
        ),
    )
    client.views_open(trigger_id=body["trigger_id"], view=view)


@refusals(below)
def row_action(
    body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
) -> None:
    """Do what a row's menu (or its Details button) asked; answer under the list."""
    action = first_action(body)
    if action["action_id"] == ROW_DETAILS:
        verb, value = "details", str(action.get("value", ""))
    else:
        selected = str((action.get("selected_option") or {}).get("value", ""))
        verb, _, value = selected.partition(":")
    row_verb = ROW_VERBS.get(verb)
    if row_verb is None:
        raise InvalidInput(f"I don't know the action '{verb}'.")
    reply = row_verb(RowClick(services(context), client, context, body, parse_number(value)))
    if reply is not None:
        respond(replace_original=False, response_type="ephemeral", **reply.as_kwargs())


@dataclass(frozen=True)
class RowClick:
    """One use of a row's menu: who, on which request, and how to reach Slack."""

    surface: Surface
    client: WebClient
    context: BoltContext
    body: dict[str, Any]
    number: int

    @property
    def workspace_id(self) -> int:
        return self.surface.workspace_id(self.context)

    def admin(self) -> bool:
        return self.surface.is_admin(self.client, self.context, actor_of(self.body).id)


def _row_pause(click: RowClick) -> Reply:
    result = click.surface.ops.pause(click.workspace_id, [click.number], actor_of(click.body))
    return bulk_reply(result, "paused")


def _row_resume(click: RowClick) -> Reply:
    result = click.surface.ops.resume(click.workspace_id, [click.number], actor_of(click.body))
    return bulk_reply(result, "resumed")


def _row_cancel(click: RowClick) -> Reply:
    return row_cancel_prompt(click.number)


def _row_resend(click: RowClick) -> Reply:
    # Admin or not matters when the last message is in doubt (see require_decider).
    actor = actor_of(click.body).as_admin(click.admin())
    click.surface.ops.resend(click.workspace_id, click.number, actor)
    return text_reply(f":repeat: #{click.number} is being sent again.")


def _row_reschedule(click: RowClick) -> None:
    ws, body = click.workspace_id, click.body
    current = click.surface.ops.show(ws, click.number).request.scheduled_at
    view = reschedule_modal(
        click.number,
        current,
        timezone=click.surface.ops.policy(ws).timezone,
        private_metadata=metadata(
            n=click.number, r=body.get("response_url"), c=(body.get("channel") or {}).get("id")
        ),
    )
    click.client.views_open(trigger_id=body["trigger_id"], view=view)


def _row_edit(click: RowClick) -> None:
    open_edit(
        click.surface,
        click.client,
        click.workspace_id,
        click.number,
        trigger_id=click.body["trigger_id"],
        response_url=click.body.get("response_url"),
        channel_id=(click.body.get("channel") or {}).get("id"),
    )


def _row_delete(click: RowClick) -> Reply:
    return delete_prompt(click.number) if click.admin() else text_reply(refusal("delete requests"))


def _row_details(click: RowClick) -> Reply:
    detail = click.surface.ops.show(click.workspace_id, click.number)
    return detail_reply(detail, click.surface.sender_info())


# What each verb of a row's menu does; None means it answered by opening a modal.
ROW_VERBS: dict[str, Callable[[RowClick], Reply | None]] = {
    "pause": _row_pause,
    "resume": _row_resume,
    "cancel": _row_cancel,
    "resend": _row_resend,
    "reschedule": _row_reschedule,
    "edit": _row_edit,
    "delete": _row_delete,
    "details": _row_details,
}


@refusals(in_place)
def row_cancel(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Cancel the one request whose cancel the person confirmed."""
    surface = services(context)
    number = parse_number(str(first_action(body).get("value", "")))
    result = surface.ops.cancel(surface.workspace_id(context), [number], actor_of(body))
    respond(replace_original=True, **bulk_reply(result, "canceled").as_kwargs())


@refusals(anywhere)
def row_keep(body: dict[str, Any], respond: Respond) -> None:
    """Say nothing was canceled."""
    value = str(first_action(body).get("value", ""))
    respond(replace_original=True, text=f"Kept #{value}: nothing was canceled.")


@refusals(anywhere)
def cancel_all(
    body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Cancel every queued request once an admin confirmed the count they saw."""
    surface = services(context)
    ws = surface.workspace_id(context)
    actor = actor_of(body)
    if not surface.is_admin(client, context, actor.id):
        respond(replace_original=True, text=refusal("cancel every queued request"))
        return
    # The admin confirmed a count: if the queue changed since, ask again with the new one.
    asked = str(first_action(body).get("value", ""))
    now_queued = surface.ops.count_queued(ws)
    if asked.isdigit() and int(asked) != now_queued:
        if now_queued == 0:
            respond(replace_original=True, text="Nothing is queued any more: nothing to cancel.")
        else:
            respond(replace_original=True, **cancel_all_prompt(now_queued).as_kwargs())
        return
    result = surface.ops.cancel_all_queued(ws, actor)
    respond(replace_original=True, **text_reply(_canceled_all_text(result)).as_kwargs())


def _canceled_all_text(result: BulkResult) -> str:
    count = len(result.changed)
    lines = [f":no_entry_sign: Canceled {count} queued {'request' if count == 1 else 'requests'}."]
    if result.changed:
        lines.append(", ".join(f"#{n}" for n in result.changed[:200]))
    for number, reason in result.refused[:20]:
        lines.append(f":warning: #{number} not canceled: {escape(reason)}")
    return "\n".join(lines)


@refusals(anywhere)
def cancel_all_keep(respond: Respond) -> None:
    """Say the queue is as it was."""
    respond(replace_original=True, text="Nothing was canceled: the queue is as it was.")


def register(bolt: App, registered: Registered) -> None:
    """Listen to the card buttons, the list controls and the confirmations."""
    for action_id in CARD_ACTIONS:
        bolt.action(action_id)(card_button)
    for action_id in LIST_PAGING:
        bolt.action(action_id)(show_page)
    bolt.action(re.compile(f"^{LIST_COUNT}"))(show_page)
    bolt.action(LIST_FILTER)(open_filter)
    bolt.action(ROW_MENU)(row_action)
    bolt.action(ROW_DETAILS)(row_action)
    bolt.action(ROW_CANCEL_CONFIRM)(row_cancel)
    bolt.action(ROW_CANCEL_KEEP)(row_keep)
    bolt.action(CANCEL_ALL_CONFIRM)(cancel_all)
    bolt.action(CANCEL_ALL_KEEP)(cancel_all_keep)
    registered.actions += [
        *CARD_ACTIONS,
        *LIST_PAGING,
        *(LIST_COUNT + k for k in COUNT_KEYS),
        LIST_FILTER,
        ROW_MENU,
        ROW_DETAILS,
        ROW_CANCEL_CONFIRM,
        ROW_CANCEL_KEEP,
        CANCEL_ALL_CONFIRM,
        CANCEL_ALL_KEEP,
    ]
