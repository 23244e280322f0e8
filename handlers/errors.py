"""One error path: a refusal (DomainError) raised by a listener becomes the user's message.

Each listener says where its answer goes (`@refusals(in_place)`, `@field_refusals(...)` for
modals); anything else a listener raises reaches Bolt's error handler in bot/slack.py, which
logs it and apologizes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import DomainError
from handlers.blocks.common import Reply, text_reply
from handlers.surface import actor_of
from handlers.text import escape

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
    """Build the answer to a refusal: its text after a warning sign."""
    return text_reply(f":warning: {exc.message}")


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


def refusals(answer: Answer) -> Callable[[Listener], Listener]:
    """Make a listener answer a DomainError it raises with `answer`, instead of failing."""

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
            given = {"ack": ack, "body": body, "respond": respond, "client": client}
            given["context"] = context
            try:
                listener(**{name: value for name, value in given.items() if name in wanted})
            except DomainError as exc:
                answer(exc, Request(ack, body, respond, client))

        run.__name__ = listener.__name__
        run.__qualname__ = listener.__qualname__
        run.__doc__ = listener.__doc__
        return run

    return decorate


def field_refusals(
    to_fields: Callable[[DomainError, dict[str, Any]], dict[str, str]],
) -> Callable[[Listener], Listener]:
    """Make a modal's submission answer a DomainError on its fields, the modal left open.

    `to_fields` names, from the refusal and the submission, the message of each block.
    """

    def answer(exc: DomainError, request: Request) -> None:
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
