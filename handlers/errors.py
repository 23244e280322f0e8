"""One error path: whatever a listener raises becomes the user's message, never a failed request.

Each listener says where a refusal (DomainError) goes (`@refusals(in_place)`,
`@field_refusals(...)` for modals, `@refusals(anywhere)`). Any other error is logged and told
as `bot/failures.py` words it (the database's outage, or an apology): the request is acked
first if it was not, a modal keeps its fields with the message on its first input. Nothing
is re-raised, because Bolt turns an error raised after `ack()` into "no ack" (a 404 at Slack).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.domain.errors import DomainError
from bot.failures import failure_text
from bot.usecases.once import AlreadyCreated
from handlers.blocks.common import Reply, text_reply
from handlers.listener_pool import LISTENER_POOL
from handlers.step_runs import fail_step, is_step_run
from handlers.surface import actor_of
from handlers.text import escape

log = logging.getLogger(__name__)

Listener = Callable[..., None]


@dataclass(frozen=True)
class Request:
    """What a refusal's answer may need of the Slack request that was refused."""

    ack: Ack
    body: dict[str, Any]
    respond: Respond
    client: WebClient


Answer = Callable[[DomainError, Request], None]


def warning_reply(exc: DomainError) -> Reply:
    """Build the answer to a refusal: its text after a warning sign.

    A refusal often quotes what was typed ("'<!channel>' is not a delay"): escaped, it stays words.
    """
    return text_reply(f":warning: {escape(exc.message)}")


def in_place(exc: DomainError, request: Request) -> None:
    """Replace the message whose control was used (an ephemeral list page or prompt)."""
    request.respond(replace_original=True, **warning_reply(exc).as_kwargs())


def below(exc: DomainError, request: Request) -> None:
    """Answer under the message whose control was used, leaving it as it is."""
    reply = warning_reply(exc)
    request.respond(replace_original=False, response_type="ephemeral", **reply.as_kwargs())


def to_clicker(exc: DomainError, request: Request) -> None:
    """Tell only the person who clicked a button on a channel message."""
    channel = (request.body.get("channel") or {}).get("id") or ""
    user = actor_of(request.body).id
    request.client.chat_postEphemeral(
        channel=channel, user=user, text=f":warning: {escape(exc.message)}"
    )


def to_command(exc: DomainError, request: Request) -> None:
    """Answer a slash command with an ephemeral message."""
    request.respond(response_type="ephemeral", **warning_reply(exc).as_kwargs())


def anywhere(exc: DomainError, request: Request) -> None:
    """Tell the person by whatever way the request allows (a listener with no better place)."""
    tell(request, f":warning: {exc.message}")


def tell(request: Request, text: str) -> None:
    """Ack if not yet done, then tell the person who asked `text` where the surface allows.

    `text` is words, not markup: a modal's field error shows it as it is (plain text), every
    other surface gets it escaped for mrkdwn (a refusal may quote what was typed).
    """
    body = request.body
    if request.ack.response is None:
        if body.get("type") == "view_submission" and _first_input(body):
            request.ack(response_action="errors", errors={_first_input(body): text})
            return
        request.ack()
    try:
        if is_step_run(body):
            fail_step(request.client, body, text)  # a workflow step: its run ends with it
        else:
            _tell_acked(request, escape(text))
    except (SlackApiError, SlackRequestError, OSError):
        log.warning("Couldn't tell the user what went wrong", exc_info=True)


def _tell_acked(request: Request, text: str) -> None:
    body = request.body
    user = actor_of(body).id or str((body.get("event") or {}).get("user") or "")
    if body.get("response_url") or body.get("response_urls"):
        request.respond(text=text, response_type="ephemeral", replace_original=False)
    elif (body.get("event") or {}).get("type") == "app_home_opened":
        view = {"type": "home", "blocks": text_reply(text).blocks}
        request.client.views_publish(user_id=user, view=view)
    elif (body.get("channel") or {}).get("id"):
        request.client.chat_postEphemeral(channel=body["channel"]["id"], user=user, text=text)
    elif user:  # a Home tab button or a closed modal: the app's direct messages
        request.client.chat_postMessage(channel=user, text=text)


def _first_input(body: dict[str, Any]) -> str:
    blocks = (body.get("view") or {}).get("blocks") or []
    return next((str(b["block_id"]) for b in blocks if b.get("type") == "input"), "")


def refusals(answer: Answer) -> Callable[[Listener], Listener]:
    """Make a listener answer a DomainError it raises with `answer`, instead of failing.

    A listener that names no `ack` parameter is acked (empty) before it runs, and runs queued
    in its turn (listener_pool's `defer`); one that names it acks when it knows what to say.
    """

    def decorate(listener: Listener) -> Listener:
        wanted = inspect.signature(listener).parameters

        # Bolt injects arguments by the names it sees here; the listener gets the ones it names.
        def run(
            ack: Ack,
            body: dict[str, Any],
            respond: Respond,
            client: WebClient,
            context: BoltContext,
        ) -> None:
            def answered(acking: Ack) -> None:
                given = {"ack": acking, "body": body, "respond": respond, "client": client}
                given |= {"context": context, "event": body.get("event") or {}}
                request = Request(acking, body, respond, client)
                try:
                    try:
                        listener(**{name: value for name, value in given.items() if name in wanted})
                    except DomainError as exc:
                        answer(exc, request)  # may fail too (Slack down): told below
                    except AlreadyCreated as done:
                        # A delivery repeated (a retry, a double click): the first answered.
                        log.info("a repeated Slack delivery created nothing (#%s)", done.number)
                        if acking.response is None:
                            acking()
                except Exception as exc:  # noqa: BLE001 - re-raised, Bolt would drop the ack
                    log.exception("Slack listener %s failed", listener.__name__)
                    tell(request, failure_text(exc))

            acked_first = "ack" not in wanted
            if acked_first and ack.response is None:
                # Its ack says nothing (an event, a command, a button): Slack gets it now, and
                # the listener runs after it, queued in its turn.
                ack()
            pool = context.get(LISTENER_POOL)
            if pool is None:
                answered(ack)
            elif acked_first:
                pool.defer(lambda: answered(ack))
            else:
                # Slack gets its answer when the listener acks; the rest runs after it.
                pool.run(ack, answered)

        run.__name__ = listener.__name__
        run.__qualname__ = listener.__qualname__
        run.__doc__ = listener.__doc__
        run.answers_every_error = True  # type: ignore[attr-defined]  # checked by a test
        return run

    return decorate


def field_refusals(
    to_fields: Callable[[DomainError, dict[str, Any]], dict[str, str]],
) -> Callable[[Listener], Listener]:
    """Make a modal's submission answer a DomainError on its fields, the modal left open.

    `to_fields` names, from the refusal and the submission, the message of each block.
    """

    def answer(exc: DomainError, request: Request) -> None:
        if request.ack.response is not None:
            # Acked already (listener_pool's fallback, the database was slow): the modal has
            # closed, so the refusal goes to the person in a message.
            anywhere(exc, request)
            return
        request.ack(response_action="errors", errors=to_fields(exc, request.body))

    return refusals(answer)


def field_errors(exc: DomainError, mapping: dict[str, str], default: str) -> dict[str, str]:
    """Spread a domain error over a modal's blocks, one message per field."""
    errors = exc.errors or {exc.field or default: exc.message}
    out: dict[str, str] = {}
    for name, message in errors.items():
        block = mapping.get(name, default)
        out[block] = f"{out[block]} {message}" if block in out else message
    return out
