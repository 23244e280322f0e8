"""Reading a workspace's stored settings back: validated once per distinct stored value.

Settings are validated when saved (bot/domain/policy.py); every send, list and webhook reads
them back, several times per message, so a read must cost next to nothing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from bot.domain.policy import STORED, WorkspacePolicy


def stored_policy(stored: dict[str, Any]) -> WorkspacePolicy:
    """Read a workspace's stored settings, validated once per distinct stored value.

    Settings are validated when saved; a read (every send, list, webhook) reuses the result.
    The cache key is the stored value itself, so a change of settings is a new key. The same
    stored dict read again (a batch's workspace, once per message) skips even the key: it is
    compared with what it held when first read, so an edit in place is read anew.
    """
    seen = _read_before.get(id(stored))
    if seen is not None and seen[0] is stored and seen[1] == stored:
        read = seen[2]
    else:
        stored_json = json.dumps(stored, sort_keys=True, default=str)
        read = _validated(stored_json)
        if len(_read_before) >= _READ_BEFORE_MAX:
            _read_before.clear()
        _read_before[id(stored)] = (stored, json.loads(stored_json), read)
    policy, containers = read
    # A fresh object with its own lists and dicts (of strings): a caller's edit never reaches
    # the cache.
    own = policy.model_copy()
    fields = own.__dict__
    for name in containers:
        fields[name] = fields[name].copy()
    return own


_Read = tuple[WorkspacePolicy, tuple[str, ...]]  # a validated policy, its list and dict fields

# {id(stored dict): (that dict, what it held then, its policy)}. The dict is kept alive, so
# its id is not reused while it is here. A few workspaces' worth, emptied when full.
_read_before: dict[int, tuple[dict[str, Any], Any, _Read]] = {}
_READ_BEFORE_MAX = 64


@lru_cache(maxsize=256)
def _validated(stored_json: str) -> _Read:
    policy = WorkspacePolicy.model_validate(json.loads(stored_json), context=STORED)
    containers = tuple(k for k, v in policy.__dict__.items() if isinstance(v, list | dict))
    return policy, containers
