"""Slack's Block Kit limits, in one place, and the check that a payload keeps to them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
)
from slack_sdk.models.views import View

# Block Kit limits (https://api.slack.com/reference/block-kit).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_VIEW_TITLE = 24
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OVERFLOW_OPTIONS = 5
MAX_ACTION_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_PRIVATE_METADATA = 3000
MAX_ID = 255
MAX_INPUT = 3000  # the most a plain-text input holds
MAX_CHECKBOX_OPTIONS = 10  # options in one checkboxes element


def limit_problems(payload: View | Mapping[str, Any] | Sequence[Any], *, kind: str) -> list[str]:
    """List every way a message ("message"), modal ("modal") or Home tab ("home") breaks Slack's limits."""
    if isinstance(payload, View):
        data: Any = payload.to_dict()
    elif isinstance(payload, Mapping):
        data = dict(payload)
    else:
        data = {"blocks": [b.to_dict() if isinstance(b, Block) else b for b in payload]}
    problems = _surface_problems(data, kind)
    _walk(data.get("blocks") or [], "", problems)
    return problems


def _surface_problems(data: Mapping[str, Any], kind: str) -> list[str]:
    problems: list[str] = []
    blocks = data.get("blocks") or []
    most = MAX_MESSAGE_BLOCKS if kind == "message" else MAX_VIEW_BLOCKS
    if len(blocks) > most:
        problems.append(f"{len(blocks)} blocks (at most {most})")
    if kind != "message":
        for key in ("title", "submit", "close"):
            obj = data.get(key)
            if obj and len(obj.get("text", "")) > MAX_VIEW_TITLE:
                problems.append(f"{key} longer than {MAX_VIEW_TITLE}")
        if len(str(data.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
            problems.append("private_metadata too long")
    if len(str(data.get("text") or "")) > 40000:
        problems.append("text longer than 40000")
    return problems


def _walk(node: Any, parent: str, problems: list[str]) -> None:
    """Check a node and everything under it; `parent` is the type of the enclosing element."""
    if isinstance(node, list):
        for item in node:
            _walk(item, parent, problems)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type", "")
    problems += _node_problems(node, kind, parent)
    for key, value in node.items():
        if isinstance(value, dict | list) and key != "options":
            _walk(value, kind if kind not in ("plain_text", "mrkdwn") else parent, problems)


def _node_problems(node: dict[str, Any], kind: str, parent: str) -> list[str]:
    problems: list[str] = []
    if kind in ("plain_text", "mrkdwn"):
        most_text = MAX_HEADER if parent == "header" else MAX_TEXT
        if len(node.get("text", "")) > most_text:
            problems.append(f"{parent} text longer than {most_text}")
    if kind == "button":
        if len(node.get("text", {}).get("text", "")) > MAX_BUTTON_TEXT:
            problems.append(f"button text longer than {MAX_BUTTON_TEXT}")
        if len(str(node.get("value", ""))) > MAX_BUTTON_VALUE:
            problems.append(f"button value longer than {MAX_BUTTON_VALUE}")
    if kind == "overflow":
        count = len(node.get("options", []))
        if not 2 <= count <= MAX_OVERFLOW_OPTIONS:
            problems.append(f"overflow with {count} options (2 to {MAX_OVERFLOW_OPTIONS})")
    if kind == "section":
        fields = node.get("fields") or []
        if len(fields) > MAX_FIELDS:
            problems.append(f"section with {len(fields)} fields")
        problems += [
            f"section field longer than {MAX_FIELD}"
            for f in fields
            if len(f.get("text", "")) > MAX_FIELD
        ]
    return problems + _count_problems(node, kind) + _option_problems(node, kind)


def _count_problems(node: dict[str, Any], kind: str) -> list[str]:
    problems: list[str] = []
    if kind == "checkboxes" and len(node.get("options", [])) > MAX_CHECKBOX_OPTIONS:
        problems.append(f"checkboxes with more than {MAX_CHECKBOX_OPTIONS} options")
    if kind == "actions" and len(node.get("elements", [])) > MAX_ACTION_ELEMENTS:
        problems.append("actions block with too many elements")
    if kind == "context" and len(node.get("elements", [])) > MAX_CONTEXT_ELEMENTS:
        problems.append("context block with too many elements")
    for key in ("action_id", "block_id"):
        if len(str(node.get(key, ""))) > MAX_ID:
            problems.append(f"{key} longer than {MAX_ID}")
    return problems


def _option_problems(node: dict[str, Any], kind: str) -> list[str]:
    problems: list[str] = []
    if "options" in node and kind != "overflow":
        for option in node["options"]:
            if len(option.get("text", {}).get("text", "")) > MAX_OPTION_TEXT:
                problems.append("option text too long")
    for option in node.get("options", []) if isinstance(node.get("options"), list) else []:
        if len(str(option.get("value", ""))) > MAX_OPTION_VALUE:
            problems.append("option value too long")
    return problems


def assert_within_limits(payload: View | Mapping[str, Any] | Sequence[Any], *, kind: str) -> None:
    """Raise ValueError when a message or view breaks one of Slack's limits.

    :raise ValueError: with every problem found.
    """
    problems = limit_problems(payload, kind=kind)
    if problems:
        raise ValueError("; ".join(problems))
