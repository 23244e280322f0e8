"""A Workflow Builder step's run: knowing one, and ending it with a reason the person reads.

Slack runs our custom step by sending `function_executed` with a `function_execution_id` and a
short-lived token for that run (Bolt puts it on the request's client). A run ends only when the
app says `functions.completeSuccess` or `functions.completeError`; one left without either
hangs in the workflow, so every way a run can go wrong (a refusal, an uninstalled workspace,
an error of ours) ends it here with words.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Fail
from slack_sdk import WebClient

from handlers.text import escape

# Slackbot tells the person who ran the workflow why the step failed, in a Slack message: a
# reason is escaped for mrkdwn (it may quote an input, `<!channel>`), cut to a message's size,
# and loses the emoji code some of our messages start with (the workflow's log shows it raw).
_LEADING_EMOJI = re.compile(r"^:[a-z0-9_+-]+:\s*")
MAX_REASON = 1000
UNKNOWN_STEP = (
    "reviewops has no such step (any more): remove it from the workflow and add "
    '"Send a review request" again.'
)


def is_step_run(body: dict[str, Any]) -> bool:
    """Say whether a Slack request runs a workflow step (a `function_executed` event)."""
    event = body.get("event")
    return (
        isinstance(event, dict)
        and event.get("type") == "function_executed"
        and isinstance(event.get("function_execution_id"), str)
    )


def execution_id(body: dict[str, Any]) -> str:
    """Return the id of the step run a `function_executed` request is about."""
    return str(body["event"]["function_execution_id"])


def fail_step(client: WebClient, body: dict[str, Any], reason: str) -> None:
    """End the step run with `reason` (functions.completeError), with the run's own token.

    :raise SlackApiError: Slack refused (or could not take) the answer.
    """
    words = _LEADING_EMOJI.sub("", reason)
    if len(words) > MAX_REASON:
        words = words[: MAX_REASON - 1].rstrip() + "…"
    Fail(client=_run_client(client, body), function_execution_id=execution_id(body))(
        error=escape(words)
    )


def _run_client(client: WebClient, body: dict[str, Any]) -> WebClient:
    """Return a client holding the run's token: Bolt attaches it only once a team is authorized."""
    token = body["event"].get("bot_access_token")
    if not isinstance(token, str) or not token or client.token == token:
        return client
    return WebClient(
        token=token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=client.retry_handlers,
    )
