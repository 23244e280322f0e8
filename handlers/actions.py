"""Buttons and menus: the request card's buttons in channel threads, and the list's controls.

Every listener acks first. Controls on an ephemeral list page answer through `respond()`
(the response_url); buttons on a channel's request card answer the clicker with an ephemeral
message, while the card itself is redrawn by the notifier and the outbox.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import DomainError, InvalidInput
from bot.domain.numbers import parse_number
from bot.requests import BulkResult
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
from handlers.commands import is_admin, render_list
from handlers.edit import open_edit
from handlers.parsing import PageState, parse_list_query
from handlers.permissions import refusal
from handlers.surface import Surface, actor_of
from handlers.text import slack_date

log = logging.getLogger(__name__)

Ack = Callable[..., None]
CARD_ACTIONS = (ACTION_PAUSE, ACTION_RESUME, ACTION_CANCEL, ACTION_SEND_NOW)
LIST_PAGING = (LIST_PREV, LIST_NEXT, LIST_REFRESH, LIST_CLEAR)
COUNT_KEYS = ("sent", "opened", "clicked", "failed")


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return dict(actions[0])


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


def register(bolt: App, surface: Surface) -> None:
    """Listen to the card buttons, the list controls and the confirmations."""

    # --- the request card in a channel -----------------------------------------------------

    def card_button(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        ack()
        action = _action(body)
        channel = (body.get("channel") or {}).get("id") or ""
        user = actor_of(body).id
        try:
            text = _card_result(
                surface,
                surface.workspace_id(context),
                action["action_id"],
                parse_number(str(action.get("value", ""))),
                body,
            )
        except DomainError as exc:
            text = f":warning: {exc.message}"
        client.chat_postEphemeral(channel=channel, user=user, text=text)

    for action_id in CARD_ACTIONS:
        bolt.action(action_id)(card_button)
    surface.registered.actions += list(CARD_ACTIONS)

    # --- the list page (ephemeral, answered through its response_url) ---------------------

    def show_page(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        user = actor_of(body).id
        try:
            state = PageState.decode(str(_action(body).get("value", "")))
            ws = surface.workspace_id(context)
            admin = is_admin(surface, client, ws, str(context.team_id or ""), user)
            reply = render_list(surface, ws, user, state, admin=admin)
        except DomainError as exc:
            reply = text_reply(f":warning: {exc.message}")
        respond(replace_original=True, **reply.as_kwargs())

    for action_id in LIST_PAGING:
        bolt.action(action_id)(show_page)
    bolt.action(re.compile(f"^{LIST_COUNT}"))(show_page)
    surface.registered.actions += [*LIST_PAGING, *(LIST_COUNT + k for k in COUNT_KEYS)]

    @bolt.action(LIST_FILTER)
    def open_filter(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
    ) -> None:
        ack()
        ws = surface.workspace_id(context)
        policy = surface.ops.policy(ws)
        try:
            state = PageState.decode(str(_action(body).get("value", "")))
            query = parse_list_query(
                state.query,
                timezone=policy.timezone,
                user_id=actor_of(body).id,
                region=policy.region,
            )
        except DomainError as exc:
            respond(replace_original=False, text=f":warning: {exc.message}")
            return
        view = filter_modal(
            query.filter,
            timezone=policy.timezone,
            private_metadata=metadata(
                r=body.get("response_url"), c=(body.get("channel") or {}).get("id")
            ),
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    surface.registered.actions.append(LIST_FILTER)

    def row_action(
        ack: Ack,
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        action = _action(body)
        if action["action_id"] == ROW_DETAILS:
            verb, value = "details", str(action.get("value", ""))
        else:
            verb, _, value = str((action.get("selected_option") or {}).get("value", "")).partition(
                ":"
            )
        ws = surface.workspace_id(context)
        actor = actor_of(body)
        reply: Reply
        try:
            number = parse_number(value)
            if verb == "pause":
                reply = bulk_reply(surface.ops.pause(ws, [number], actor), "paused")
            elif verb == "resume":
                reply = bulk_reply(surface.ops.resume(ws, [number], actor), "resumed")
            elif verb == "cancel":
                reply = row_cancel_prompt(number)
            elif verb == "resend":
                surface.ops.resend(ws, number, actor)
                reply = text_reply(f":repeat: #{number} is being sent again.")
            elif verb == "reschedule":
                current = surface.ops.show(ws, number).request.scheduled_at
                view = reschedule_modal(
                    number,
                    current,
                    timezone=surface.ops.policy(ws).timezone,
                    private_metadata=metadata(
                        n=number,
                        r=body.get("response_url"),
                        c=(body.get("channel") or {}).get("id"),
                    ),
                )
                client.views_open(trigger_id=body["trigger_id"], view=view)
                return
            elif verb == "edit":
                open_edit(
                    surface,
                    client,
                    ws,
                    number,
                    trigger_id=body["trigger_id"],
                    response_url=body.get("response_url"),
                    channel_id=(body.get("channel") or {}).get("id"),
                )
                return
            elif verb == "delete":
                admin = is_admin(surface, client, ws, str(context.team_id or ""), actor.id)
                reply = delete_prompt(number) if admin else text_reply(refusal("delete requests"))
            elif verb == "details":
                reply = detail_reply(surface.ops.show(ws, number), surface.sender_info())
            else:
                raise InvalidInput(f"I don't know the action '{verb}'.")
        except DomainError as exc:
            reply = text_reply(f":warning: {exc.message}")
        respond(replace_original=False, response_type="ephemeral", **reply.as_kwargs())

    bolt.action(ROW_MENU)(row_action)
    bolt.action(ROW_DETAILS)(row_action)
    surface.registered.actions += [ROW_MENU, ROW_DETAILS]

    @bolt.action(ROW_CANCEL_CONFIRM)
    def row_cancel(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        ack()
        try:
            number = parse_number(str(_action(body).get("value", "")))
            result = surface.ops.cancel(surface.workspace_id(context), [number], actor_of(body))
            reply = bulk_reply(result, "canceled")
        except DomainError as exc:
            reply = text_reply(f":warning: {exc.message}")
        respond(replace_original=True, **reply.as_kwargs())

    @bolt.action(ROW_CANCEL_KEEP)
    def row_keep(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        value = str(_action(body).get("value", ""))
        respond(replace_original=True, text=f"Kept #{value}: nothing was canceled.")

    surface.registered.actions += [ROW_CANCEL_CONFIRM, ROW_CANCEL_KEEP]

    # --- cancel all queued -------------------------------------------------------------------

    @bolt.action(CANCEL_ALL_CONFIRM)
    def cancel_all(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        ws = surface.workspace_id(context)
        actor = actor_of(body)
        if not is_admin(surface, client, ws, str(context.team_id or ""), actor.id):
            respond(replace_original=True, text=refusal("cancel every queued request"))
            return
        # The admin confirmed a count: if the queue changed since, ask again with the new one.
        asked = str(_action(body).get("value", ""))
        now_queued = surface.ops.count_queued(ws)
        if asked.isdigit() and int(asked) != now_queued:
            if now_queued == 0:
                respond(
                    replace_original=True, text="Nothing is queued any more: nothing to cancel."
                )
            else:
                respond(replace_original=True, **cancel_all_prompt(now_queued).as_kwargs())
            return
        result = surface.ops.cancel_all_queued(ws, actor)
        count = len(result.changed)
        lines = [
            f":no_entry_sign: Canceled {count} queued {'request' if count == 1 else 'requests'}."
        ]
        if result.changed:
            lines.append(", ".join(f"#{n}" for n in result.changed[:200]))
        for number, reason in result.refused[:20]:
            lines.append(f":warning: #{number} not canceled: {reason}")
        respond(replace_original=True, **text_reply("\n".join(lines)).as_kwargs())

    @bolt.action(CANCEL_ALL_KEEP)
    def cancel_all_keep(ack: Ack, respond: Respond) -> None:
        ack()
        respond(replace_original=True, text="Nothing was canceled: the queue is as it was.")

    surface.registered.actions += [CANCEL_ALL_CONFIRM, CANCEL_ALL_KEEP]
