"""Read a signed Slack request's body, and refuse one Bolt or a listener could not use.

Bolt parses bodies itself and fails with an exception (a 500 and a traceback) on a `payload=`
that is not JSON, or an object where it expects a string; listeners index the fields Slack
always sends. A body is read here first (only once its signature is good) and checked for the
fields and types that Bolt and the listeners rely on; anything else is `MalformedPayload`,
answered 400 with one line in the log.

Form bodies are read whole, not by looking for the word "payload" in them as Bolt does (which
lost a slash command whose text contained it).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

SSL_CHECK_MAX = 256  # `ssl_check=1&token=<verification token>`: a few dozen bytes


def is_ssl_check(body: bytes) -> bool:
    """Say whether a body is Slack's SSL check and nothing else (which Slack does not sign).

    Read only when it is that small; it is answered with an empty 200 and nothing else.
    """
    if len(body) > SSL_CHECK_MAX:
        return False
    form = parse_qsl(body.decode("ascii", "replace"), keep_blank_values=True)
    return ("ssl_check", "1") in form and {key for key, _ in form} <= {"ssl_check", "token"}


class MalformedPayload(ValueError):
    """A signed Slack body that is not what Slack sends (say which part, never the content)."""


def read_payload(body: bytes, mimetype: str) -> dict[str, Any]:
    """Parse a Slack request body (form, `payload=` JSON or Events API JSON) and check it.

    :raise MalformedPayload: not UTF-8, not JSON where JSON is due, or a field of the wrong type.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload("the body is not UTF-8") from exc
    if mimetype == "application/json":
        data = _json(text, "the JSON body")
    else:
        form = dict(parse_qsl(text, keep_blank_values=True))
        data = _json(form["payload"], "payload") if "payload" in form else form
    if not isinstance(data, dict) or not data:
        raise MalformedPayload("the payload is not a JSON object with fields")
    _check(data)
    return data


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError
        raise MalformedPayload(f"{what} is not JSON") from exc
    except RecursionError as exc:
        raise MalformedPayload(f"{what} is nested too deeply") from exc


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Return obj[key] if it has the type, else refuse naming the field."""
    value = obj.get(key)
    if not isinstance(value, kind):
        raise MalformedPayload(f"{where}{key} is missing or of the wrong type")
    return value


def _optional(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> None:
    if obj.get(key) is not None:
        _field(obj, key, kind, where)


def _check(data: dict[str, Any]) -> None:
    if "ssl_check" in data:
        return  # Slack's certificate check: answered by Bolt, nothing else read
    if "command" in data:
        for key in ("command", "team_id", "user_id"):
            _field(data, key, str, "")
        return
    kind = _field(data, "type", str, "")
    _envelope(data)
    if kind == "event_callback":
        _field(_field(data, "event", dict, ""), "type", str, "event.")
    elif kind == "url_verification":
        _field(data, "challenge", str, "")
    elif kind in ("view_submission", "view_closed"):
        _view(_field(data, "view", dict, ""), submitted=kind == "view_submission")
    elif kind == "block_actions":
        actions = _field(data, "actions", list, "")
        if not actions:
            raise MalformedPayload("actions is empty")
        for action in actions:
            _action(action)


def _envelope(data: dict[str, Any]) -> None:
    """The fields Bolt reads from every payload to find the team, user and channel."""
    for key in ("team", "user", "channel", "container", "message", "view"):
        _optional(data, key, dict, "")
    for key in ("team", "user", "channel"):
        if isinstance(data.get(key), dict):
            _optional(data[key], "id", str, f"{key}.")
    for key in ("team_id", "user_id", "channel_id", "api_app_id", "trigger_id", "response_url"):
        _optional(data, key, str, "")
    _optional(data, "enterprise", (dict, str), "")
    _optional(data, "is_enterprise_install", (bool, str), "")
    for key in ("authorizations", "response_urls"):
        _optional(data, key, list, "")
        for item in data.get(key) or []:
            if not isinstance(item, dict):
                raise MalformedPayload(f"{key} holds something other than objects")


def _view(view: dict[str, Any], *, submitted: bool) -> None:
    for key in ("id", "callback_id"):
        _field(view, key, str, "view.")
    for key in ("private_metadata", "hash"):
        _optional(view, key, str, "view.")
    _optional(view, "blocks", list, "view.")
    if not submitted:
        return
    values = _field(_field(view, "state", dict, "view."), "values", dict, "view.state.")
    for block in values.values():
        if not isinstance(block, dict) or not all(
            isinstance(element, dict) and isinstance(element.get("type", ""), str)
            for element in block.values()
        ):
            raise MalformedPayload("view.state.values holds something other than inputs")


def _action(action: Any) -> None:
    if not isinstance(action, dict):
        raise MalformedPayload("actions holds something other than objects")
    _field(action, "action_id", str, "actions[].")
    for key in ("value", "block_id", "type"):
        _optional(action, key, str, "actions[].")
    _optional(action, "selected_option", dict, "actions[].")
