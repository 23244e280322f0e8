"""One error path: a refusal (DomainError) raised by a listener becomes the user's message.

Each listener says where its answer goes (`@refusals(in_place)`, ...); anything else a listener
raises reaches Bolt's error handler in bot/slack.py, which logs it and apologizes. Modals show
refusals on their fields instead (handlers/views.py:field_errors).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from slack_bolt import Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import DomainError
from handlers.blocks.common import Reply, text_reply
from handlers.surface import actor_of
from handlers.text import escape

Listener = Callable[..., None]
Answer = Callable[[DomainError, dict[str, Any], Respond, WebClient], None]


def warning_reply(exc: DomainError) -> Reply:
    """Build the answer to a refusal: its text after a warning sign."""
    return text_reply(f":warning: {exc.message}")


def in_place(exc: DomainError, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
    """Replace the message whose control was used (an ephemeral list page or prompt)."""
    respond(replace_original=True, **warning_reply(exc).as_kwargs())


def below(exc: DomainError, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
    """Answer under the message whose control was used, leaving it as it is."""
    respond(replace_original=False, response_type="ephemeral", **warning_reply(exc).as_kwargs())


def to_clicker(exc: DomainError, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
    """Tell only the person who clicked a button on a channel message."""
    channel = (body.get("channel") or {}).get("id") or ""
    client.chat_postEphemeral(
        channel=channel, user=actor_of(body).id, text=f":warning: {escape(exc.message)}"
    )


def to_command(exc: DomainError, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
    """Answer a slash command with an ephemeral message."""
    respond(response_type="ephemeral", **warning_reply(exc).as_kwargs())


def refusals(answer: Answer) -> Callable[[Listener], Listener]:
    """Make a listener answer a DomainError it raises with `answer`, instead of failing."""

    def decorate(listener: Listener) -> Listener:
        wanted = inspect.signature(listener).parameters

        # Bolt injects arguments by the names it sees here; the listener gets the ones it names.
        def run(
            ack: Callable[..., None],
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
                answer(exc, body, respond, client)

        run.__name__ = listener.__name__
        run.__qualname__ = listener.__qualname__
        run.__doc__ = listener.__doc__
        return run

    return decorate
