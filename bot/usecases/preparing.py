"""Preparing a claimed message for its provider: when it may go, and its text; and the words
for what kept it from being prepared (a poison message: settings or a template that cannot be
rendered), shown in its thread and alert."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from bot.compose import Composer
from bot.delivery.base import OutgoingMessage
from bot.domain.errors import DomainError
from bot.domain.policy import policy_errors
from bot.domain.policy_read import stored_policy
from bot.domain.send_time import earliest_send
from store.models import Message, ReviewRequest, Workspace

MAX_REASON = 400  # shown in Slack and stored as the message's error


def prepare(
    composer: Composer,
    message: Message,
    request: ReviewRequest,
    workspace: Workspace,
    now: datetime,
) -> tuple[datetime, OutgoingMessage | None]:
    """When the message may go, and its text if that is now (None: wait until then).

    Checked at claim time, so a change of the window, the holidays, the quiet hours or the
    number since it was queued is obeyed.
    """
    policy = stored_policy(workspace.policy)
    allowed = earliest_send(now, policy, message.channel, message.to_address)
    if allowed > now:
        return allowed, None
    return allowed, composer.compose(message, request, policy)


def why_unprepared(error: Exception, workspace: Workspace) -> str:
    """The words for what kept a message from being prepared (bounded)."""
    if isinstance(error, ValidationError):
        fields = policy_errors(dict(workspace.policy))
        said = "; ".join(f"{key}: {reason}" for key, reason in fields.items())
        return f"the workspace's settings are not valid ({said or error.title})"[:MAX_REASON]
    if isinstance(error, DomainError):
        return str(error)[:MAX_REASON]
    return f"{type(error).__name__} (see the worker's log)"
