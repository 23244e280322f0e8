"""The key of a Slack delivery that creates a request: the same delivery, the same key.

- A slash command: its `trigger_id`, which Slack makes for each command typed and repeats
  when it delivers that command again.
- A modal submission: the view's id and the values submitted. A double click sends the same
  view with the same values; a corrected submission (after field errors) differs in its values,
  so it is a new delivery. The view's `hash` is left out: it is the same for both.
- A workflow step's run: its `function_execution_id`, the same in every delivery of that run's
  `function_executed` event.

Keys are digests: a fixed length whatever Slack (or a forger with the signing secret) sends.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _digest(kind: str, value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"slack:{kind}:" + hashlib.sha256(canonical.encode()).hexdigest()


def command_key(trigger_id: str) -> str | None:
    """Return the key of a slash command's delivery (None without a trigger id)."""
    return _digest("command", trigger_id) if trigger_id else None


def submission_key(body: dict[str, Any]) -> str:
    """Return the key of a modal submission: its view id and the values submitted."""
    view = body.get("view") or {}
    return _digest("view", [view.get("id"), (view.get("state") or {}).get("values")])


def function_key(execution_id: str) -> str:
    """Return the key of a workflow step's run (its function_execution_id)."""
    return _digest("function", execution_id)
