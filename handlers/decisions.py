"""The team's decision about a message whose outcome is unknown: "Mark as sent" or "Send again".

The buttons sit on the thread reply (and the alert) that the reconcile job writes when Twilio
has no record of a message. The decision is recorded by the feedback use-cases; the message
that asked is redrawn without its buttons, saying who decided, so nobody decides twice.
Whether the clicker is an admin is asked when they click, not when the buttons were drawn;
the use-case refuses anyone else but the request's sender.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.numbers import parse_number
from handlers.blocks.card import ACTION_MARK_SENT, ACTION_SEND_AGAIN
from handlers.errors import refusals, to_clicker
from handlers.surface import Registered, actor_of, first_action, services


@refusals(to_clicker)
def decide(body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    """Record the decision, then redraw the asking message with who decided, without buttons."""
    surface = services(context)
    clicker = actor_of(body)
    actor = clicker.as_admin(surface.is_admin(client, context, clicker.id))
    action = first_action(body)
    number = parse_number(str(action.get("value") or ""))
    workspace_id = surface.workspace_id(context)
    if str(action.get("action_id") or "") == ACTION_MARK_SENT:
        surface.feedback.mark_as_sent(workspace_id, number, actor)
        done = f":white_check_mark: #{number}: marked as sent by <@{actor.id}>."
    else:
        surface.feedback.send_again(workspace_id, number, actor)
        done = f":repeat: #{number}: sent again by <@{actor.id}>."
    asked = str((body.get("message") or {}).get("text") or "")
    respond(text=f"{asked}\n{done}".strip(), replace_original=True)


def register(bolt: App, registered: Registered) -> None:
    """Listen to the two decision buttons."""
    for action_id in (ACTION_MARK_SENT, ACTION_SEND_AGAIN):
        bolt.action(action_id)(decide)
    registered.actions += [ACTION_MARK_SENT, ACTION_SEND_AGAIN]
