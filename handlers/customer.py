"""The customer view's buttons: open it from a request's details or a choice, toggle, page.

`/reviews show customer ...` itself is read in handlers/commands.py (do_show); the lookup is
`ReviewOps.find_customer`. An admin may erase the customer from the view, after confirming
(`Erasure.erase_customer`).
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import DomainError, InvalidInput
from handlers.blocks.common import Reply, text_reply
from handlers.blocks.controls import CUSTOMER_OPEN, CUSTOMER_VIEW, CustomerState
from handlers.blocks.customer import (
    CUSTOMER_ERASE,
    CUSTOMER_ERASE_CONFIRM,
    CUSTOMER_ERASE_KEEP,
    customer_reply,
    erase_prompt,
    erased_reply,
)
from handlers.errors import Request, anywhere, in_place, refusals, warning_reply
from handlers.permissions import refusal
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
    body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Show a customer's view: opened from details or a choice, toggled or paged in place."""
    surface = services(context)
    action = first_action(body)
    state = CustomerState.decode(str(action.get("value", "")))
    ws = surface.workspace_id(context)
    history = surface.ops.customer(ws, state.contact_id)
    admin = surface.is_admin(client, context, actor_of(body).id)
    tz = surface.ops.policy(ws).timezone
    _answer(customer_reply(history, state, tz=tz, admin=admin), body, respond)


def _contact_id(body: dict[str, Any]) -> int:
    value = str(first_action(body).get("value", ""))
    if not value.isdigit():
        raise InvalidInput("That button is out of date: show the customer again.")
    return int(value)


@refusals(in_place)
def ask_erase(
    body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Ask the admin who clicked "Erase customer" to confirm."""
    surface = services(context)
    if not surface.is_admin(client, context, actor_of(body).id):
        reply = text_reply(refusal("erase customers"))
    else:
        reply = erase_prompt(surface.ops.customer(surface.workspace_id(context), _contact_id(body)))
    respond(replace_original=True, **reply.as_kwargs())


@refusals(in_place)
def erase(body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    """Erase the customer an admin confirmed erasing."""
    surface = services(context)
    actor = actor_of(body)
    # Checked again here: the prompt may have been forwarded, or the admin list changed.
    admin = surface.is_admin(client, context, actor.id)
    if not admin:
        reply = text_reply(refusal("erase customers"))
    else:
        ws = surface.workspace_id(context)
        count = surface.ops.erasure.erase_customer(ws, _contact_id(body), actor.as_admin())
        reply = erased_reply(count)
    respond(replace_original=True, **reply.as_kwargs())


@refusals(anywhere)
def keep(respond: Respond) -> None:
    """Say nothing was erased."""
    respond(replace_original=True, text="Kept the customer: nothing was erased.")


def register(bolt: App, registered: Registered) -> None:
    """Listen to the buttons that open, toggle, page and erase a customer's view."""
    bolt.action(CUSTOMER_OPEN)(show_customer)
    bolt.action(re.compile(f"^{CUSTOMER_VIEW}_"))(show_customer)
    bolt.action(CUSTOMER_ERASE)(ask_erase)
    bolt.action(CUSTOMER_ERASE_CONFIRM)(erase)
    bolt.action(CUSTOMER_ERASE_KEEP)(keep)
    registered.actions += [CUSTOMER_OPEN, *(f"{CUSTOMER_VIEW}_{b}" for b in VIEW_BUTTONS)]
    registered.actions += [CUSTOMER_ERASE, CUSTOMER_ERASE_CONFIRM, CUSTOMER_ERASE_KEEP]
