"""The customer view's buttons: open it from a request's details or a choice, toggle, page.

`/reviews show customer ...` itself is read in handlers/commands.py (do_show); the lookup is
`ReviewOps.find_customer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext

from bot.domain.errors import DomainError
from handlers.blocks.common import Reply, text_reply
from handlers.blocks.controls import CUSTOMER_OPEN, CUSTOMER_VIEW, CustomerState
from handlers.blocks.customer import customer_reply
from handlers.surface import Surface

Ack = Callable[..., None]
VIEW_BUTTONS = ("toggle", "newer", "older")


def register(bolt: App, surface: Surface) -> None:
    """Listen to the buttons that open, toggle and page a customer's view."""

    def show_customer(
        ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext
    ) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]
        reply: Reply
        try:
            state = CustomerState.decode(str(action.get("value", "")))
            ws = surface.workspace_id(context)
            history = surface.ops.customer(ws, state.contact_id)
            reply = customer_reply(history, state, tz=surface.ops.policy(ws).timezone)
        except DomainError as exc:
            reply = text_reply(f":warning: {exc.message}")
        # From a request's details the view comes as a new message, so the details stay;
        # a choice among namesakes and the view's own buttons redraw their message.
        in_place = action.get("action_id") != CUSTOMER_OPEN or str(
            action.get("block_id", "")
        ).startswith("customer_choice_")
        respond(replace_original=in_place, response_type="ephemeral", **reply.as_kwargs())

    bolt.action(CUSTOMER_OPEN)(show_customer)
    bolt.action(re.compile(f"^{CUSTOMER_VIEW}_"))(show_customer)
    surface.registered.actions += [CUSTOMER_OPEN, *(f"{CUSTOMER_VIEW}_{b}" for b in VIEW_BUTTONS)]
