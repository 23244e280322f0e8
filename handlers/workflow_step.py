"""The "Send a review request" step of Slack's Workflow Builder (a Bolt custom function).

Slack runs the step by sending `function_executed` (callback id `send_review_request`, declared
under `functions` in manifest.yml) with the step's inputs, a `function_execution_id` and a token
for that run. The listener acks at once, then creates the request through `ReviewOps.create`
(origin `workflow`) and ends the run: `complete` with the request's number, status and a link,
or `fail` with the reason in the send form's words ("phone: ...").

Slack delivers an event again when it did not get its answer: the run's id is the delivery's
key (handlers/delivery_keys.py), so a repeated run creates nothing and completes with the same
request again.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import urlencode

from slack_bolt import App
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.domain.errors import DomainError, InvalidInput, NotFound
from bot.domain.timing import parse_delay
from bot.usecases.actors import Actor
from bot.usecases.history import ReviewRequest
from bot.usecases.inputs import RequestCreate
from bot.usecases.once import AlreadyCreated
from handlers.delivery_keys import function_key
from handlers.errors import Request, refusals
from handlers.quick_send import parse_method, parse_review_type
from handlers.step_runs import execution_id, fail_step
from handlers.surface import Registered, Surface, services

log = logging.getLogger(__name__)

CALLBACK_ID = "send_review_request"
# Who asked, when the workflow names no one (a step run by a trigger with no person).
WORKFLOW = Actor("workflow", "a workflow")
# The words of the request's model name its fields; the step's inputs are named for people.
INPUT_NAMES = {
    "when": "delay",
    "origin_channel": "channel",
    "override_cooldown": "send_anyway",
    "type": "review_type",
}
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,31}$")
# Waits before trying a completion again when Slack is down (5xx, no answer).
COMPLETE_RETRY_WAITS = (0.5, 2.0)
NOT_COMPLETED = (
    "Request #{number} was created, but Slack didn't take this step's result "
    "({error}); see #{number} in reviewops."
)


def step_reason(exc: DomainError) -> str:
    """Say a refusal as the step's failure: each field's reason after its input's name."""
    errors = exc.errors or ({exc.field: exc.message} if exc.field else {})
    if not errors:
        return exc.message
    parts = []
    for field, message in errors.items():
        name = INPUT_NAMES.get(field, field)
        reason = message.removeprefix(f"{field}:").strip()
        parts.append(f"{name}: {reason}")
    return " ".join(parts)


def failed_step(exc: DomainError, request: Request) -> None:
    """End the step's run with a refusal's reason (the `@refusals` answer of a step)."""
    fail_step(request.client, request.body, step_reason(exc))


def _text(inputs: dict[str, Any], name: str) -> str | None:
    """Return a text input as given (None when left out or empty)."""
    value = inputs.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: must be text.", field=name)
    return value


def _yes(inputs: dict[str, Any], name: str) -> bool:
    return inputs.get(name) in (True, "true")


def _slack_id(inputs: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str | None:
    value = _text(inputs, name)
    if value is not None and not pattern.match(value):
        raise InvalidInput(f"{name}: '{value[:40]}' is not a Slack id.", field=name)
    return value


def step_request(inputs: dict[str, Any]) -> RequestCreate:
    """Read the step's inputs into a request (origin `workflow`).

    :raise InvalidInput: an input is wrong, named as the step names it.
    """
    method = _text(inputs, "method")
    review_type = _text(inputs, "review_type")
    delay_text = _text(inputs, "delay")
    delay = parse_delay(delay_text, field="delay") if delay_text is not None else None
    user = _slack_id(inputs, "user_id", _USER_ID)
    return RequestCreate(
        name=_text(inputs, "name"),
        phone=_text(inputs, "phone"),
        email=_text(inputs, "email"),
        method=parse_method(method) if method is not None else None,
        review_type=parse_review_type(review_type) if review_type is not None else "service",
        language=_text(inputs, "language"),
        reference=_text(inputs, "reference"),
        when="now" if delay is not None and not delay else "delay",
        delay=delay,
        override_cooldown=_yes(inputs, "send_anyway"),
        consent=_yes(inputs, "consent"),
        origin="workflow",
        # The card goes to the notify channel if set, else here: the channel, else the DM.
        origin_channel=_slack_id(inputs, "channel", _CHANNEL_ID) or user,
    )


def request_link(body: dict[str, Any], team_id: str) -> str:
    """Return a link that opens reviewops in the team's Slack (its Home tab lists requests)."""
    return "https://slack.com/app_redirect?" + urlencode(
        {"app": str(body.get("api_app_id") or ""), "team": team_id}
    )


def _actor(surface: Surface, client: WebClient, team_id: str, inputs: dict[str, Any]) -> Actor:
    """Return who asked: the workflow's person if it names one (a member, not a guest)."""
    user = _slack_id(inputs, "user_id", _USER_ID)
    if user is None:
        return WORKFLOW
    surface.permissions.require_member(client, team_id, user)
    return Actor(user, "")


@refusals(failed_step)
def send_review_request(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Create the request a workflow step asks for; end the step's run with its outputs."""
    surface = services(context)
    event = body["event"]
    inputs = event.get("inputs") if isinstance(event.get("inputs"), dict) else {}
    ws = surface.workspace_id(context)
    team_id = str(context.team_id or "")
    data = step_request(inputs)
    actor = _actor(surface, client, team_id, inputs)
    try:
        request = surface.ops.create(ws, data, actor, key=function_key(execution_id(body)))
    except AlreadyCreated as done:
        # Slack delivered this run again: answer it with the request it created.
        log.info("workflow step run %s repeated: #%s", execution_id(body), done.number)
        request = _created(surface, ws, done.number)
    outputs = {
        "request_number": request.number,
        "status": request.status,
        "request_url": request_link(body, team_id),
    }
    try:
        _complete(context, outputs)
    except (SlackApiError, SlackRequestError, OSError) as exc:
        # The request exists: say so, rather than leave the run waiting or call it a failure.
        log.warning("couldn't complete workflow step run %s", execution_id(body), exc_info=True)
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
        reason = NOT_COMPLETED.format(number=request.number, error=error or "no answer")
        fail_step(client, body, reason)


def _complete(context: BoltContext, outputs: dict[str, Any]) -> None:
    """End the run with its outputs; a Slack outage (a 5xx, no answer) is tried again after a
    short wait, up to twice (this runs after the ack, on a listener thread). A refusal in
    Slack's words (`ok: false`) is not: it would say the same again."""
    for wait in (*COMPLETE_RETRY_WAITS, None):
        try:
            context.complete(outputs=outputs)
            return
        except (SlackApiError, SlackRequestError, OSError) as exc:
            outage = not isinstance(exc, SlackApiError) or exc.response.status_code >= 500
            if wait is None or not outage:
                raise
            log.info("workflow step completion: Slack did not answer; trying again in %s s", wait)
            time.sleep(wait)


def _created(surface: Surface, ws: int, number: int | None) -> ReviewRequest:
    if number is None:
        raise NotFound("This step already ran, and the request it created was deleted.")
    return surface.ops.show(ws, number).request


def register(bolt: App, registered: Registered) -> None:
    """Listen to the step's runs (function_executed with our callback id)."""
    bolt.function(CALLBACK_ID)(send_review_request)
    registered.functions.append(CALLBACK_ID)
    registered.events.append("function_executed")
