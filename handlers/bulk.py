"""Acting on many requests from the list (checkboxes and "… selected"), and deleting one.

The list page is ephemeral: the buttons answer through its response_url, redrawing the page
with what changed and, for each request that could not change, why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.numbers import parse_number
from bot.usecases.actors import Actor
from bot.usecases.inputs import BulkResult
from handlers.blocks.common import Reply, text_reply
from handlers.blocks.controls import (
    BULK_CANCEL,
    BULK_PAUSE,
    BULK_RESUME,
    BULK_VERBS,
    DELETE_CONFIRM,
    DELETE_KEEP,
    selected_numbers,
)
from handlers.blocks.customer import deleted_reply
from handlers.blocks.listing import bulk_reply
from handlers.commands import render_list
from handlers.errors import anywhere, in_place, refusals
from handlers.parsing import PageState
from handlers.permissions import refusal
from handlers.surface import Registered, Surface, actor_of, first_action, services

NOTHING_SELECTED = ":point_up: Tick one or more requests first, then press the button again."


def act_on_selected(
    surface: Surface, ws: int, action_id: str, numbers: list[int], actor: Actor
) -> str:
    """Pause, resume or cancel the selected requests; say what changed and why not."""
    use_case: Callable[[int, list[int], Actor], BulkResult] = {
        BULK_CANCEL: surface.ops.cancel,
        BULK_PAUSE: surface.ops.pause,
        BULK_RESUME: surface.ops.resume,
    }[action_id]
    return bulk_reply(use_case(ws, numbers, actor), BULK_VERBS[action_id]).text


@refusals(in_place)
def selected(
    body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Pause, resume or cancel the ticked requests, then redraw the page saying what changed."""
    surface = services(context)
    action = first_action(body)
    actor = actor_of(body)
    state = PageState.decode(str(action.get("value", "")))
    ws = surface.workspace_id(context)
    numbers = selected_numbers((body.get("state") or {}).get("values") or {})
    note = (
        act_on_selected(surface, ws, action["action_id"], numbers, actor)
        if numbers
        else NOTHING_SELECTED
    )
    reply = render_list(
        surface,
        ws,
        actor.id,
        state,
        note=note,
        admin=lambda policy: surface.is_admin(client, context, actor.id, policy),
    )
    respond(replace_original=True, **reply.as_kwargs())


@refusals(in_place)
def delete(body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    """Erase the request an admin confirmed deleting."""
    surface = services(context)
    ws = surface.workspace_id(context)
    actor = actor_of(body)
    reply: Reply
    # Checked again here: the prompt may have been forwarded, or the admin list changed.
    if not surface.is_admin(client, context, actor.id):
        reply = text_reply(refusal("delete requests"))
    else:
        number = parse_number(str(first_action(body).get("value", "")))
        surface.ops.delete(ws, number, actor)
        reply = deleted_reply(number)
    respond(replace_original=True, **reply.as_kwargs())


@refusals(anywhere)
def keep(body: dict[str, Any], respond: Respond) -> None:
    """Say nothing was deleted."""
    value = str(first_action(body).get("value", ""))
    respond(replace_original=True, text=f"Kept #{value.lstrip('#')}: nothing was deleted.")


def register(bolt: App, registered: Registered) -> None:
    """Listen to the list's "… selected" buttons and the delete confirmation."""
    for action_id in BULK_VERBS:
        bolt.action(action_id)(selected)
    bolt.action(DELETE_CONFIRM)(delete)
    bolt.action(DELETE_KEEP)(keep)
    registered.actions += [*BULK_VERBS, DELETE_CONFIRM, DELETE_KEEP]
