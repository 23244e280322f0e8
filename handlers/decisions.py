"""The team's decision about a message whose outcome is unknown: "Mark as sent" or "Send again".

The buttons sit on the thread reply (and the alert) that the reconcile job writes when Twilio
has no record of a message. The decision is recorded by the feedback use-cases; the message
that asked is redrawn without its buttons, saying who decided, so nobody decides twice.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import DomainError
from bot.domain.numbers import parse_number
from bot.feedback import Feedback
from handlers.blocks.card import ACTION_MARK_SENT, ACTION_SEND_AGAIN
from handlers.surface import Surface, actor_of
from handlers.text import escape


def register(bolt: App, surface: Surface) -> None:
    """Listen to the two decision buttons."""
    feedback = Feedback(surface.ops)

    def decide(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        actor = actor_of(body)
        action = (body.get("actions") or [{}])[0]
        action_id = str(action.get("action_id") or "")
        try:
            number = parse_number(str(action.get("value") or ""))
            workspace_id = surface.workspace_id(context)
            if action_id == ACTION_MARK_SENT:
                feedback.mark_as_sent(workspace_id, number, actor)
                done = f":white_check_mark: #{number}: marked as sent by <@{actor.id}>."
            else:
                feedback.send_again(workspace_id, number, actor)
                done = f":repeat: #{number}: sent again by <@{actor.id}>."
        except DomainError as exc:
            channel = (body.get("channel") or {}).get("id") or ""
            client.chat_postEphemeral(
                channel=channel, user=actor.id, text=f":warning: {escape(exc.message)}"
            )
            return
        asked = str((body.get("message") or {}).get("text") or "")
        respond(text=f"{asked}\n{done}".strip(), replace_original=True)

    for action_id in (ACTION_MARK_SENT, ACTION_SEND_AGAIN):
        bolt.action(action_id)(decide)
    surface.registered.actions += [ACTION_MARK_SENT, ACTION_SEND_AGAIN]
