"""The customer view's buttons: open it from a request's details or a choice, toggle, page.

`/reviews show customer ...` itself is read in handlers/commands.py (do_show); the lookup is
`ReviewOps.find_customer`.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import DomainError
from handlers.blocks.common import Reply
from handlers.blocks.controls import CUSTOMER_OPEN, CUSTOMER_VIEW, CustomerState
from handlers.blocks.customer import customer_reply
from handlers.errors import Request, refusals, warning_reply
from handlers.surface import Registered, actor_of, first_action, services

VIEW_BUTTONS = ("toggle", "newer", "older")


def _redraws(action: dict[str, Any]) -> bool:
    # From a request's details the view comes as a new message, so the details stay;
    # a choice among namesakes and the view's own buttons redraw their message.
    return action.get("action_id") != CUSTOMER_OPEN or str(action.get("block_id", "")).startswith(
        "customer_choice_"
    )


def _answer(reply: Reply, body: dict[str, Any], respond: Respond) -> None:
    action = first_action(body)
    respond(replace_original=_redraws(action), response_type="ephemeral", **reply.as_kwargs())


def _refused(exc: DomainError, request: Request) -> None:
    _answer(warning_reply(exc), request.body, request.respond)


@refusals(_refused)
def show_customer(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Show a customer's view: opened from details or a choice, toggled or paged in place."""
    ack()
    surface = services(context)
    action = first_action(body)
    state = CustomerState.decode(str(action.get("value", "")))
    ws = surface.workspace_id(context)
    history = surface.ops.customer(ws, state.contact_id)
    tz = surface.ops.policy(ws).timezone
    admin = surface.is_admin(client, context, actor_of(body).id)
    _answer(customer_reply(history, state, tz=tz, admin=admin), body, respond)


def register(bolt: App, registered: Registered) -> None:
    """Listen to the buttons that open, toggle and page a customer's view."""
    bolt.action(CUSTOMER_OPEN)(show_customer)
    bolt.action(re.compile(f"^{CUSTOMER_VIEW}_"))(show_customer)
    registered.actions += [CUSTOMER_OPEN, *(f"{CUSTOMER_VIEW}_{b}" for b in VIEW_BUTTONS)]
