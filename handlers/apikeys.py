"""`/reviews apikey create NAME | list | revoke ID`: the workspace's REST API keys, for admins.

The secret of a new key is shown once, in the ephemeral answer to the admin who made it.
"""

from __future__ import annotations

from bot.domain.errors import InvalidInput
from handlers.blocks.apikeys import USAGE, created_key_reply, keys_reply
from handlers.blocks.common import text_reply
from handlers.invocation import Invocation
from handlers.permissions import refusal

REFUSAL_WHAT = "manage API keys"


def run_command(inv: Invocation) -> None:
    """`/reviews apikey ...`: refuse non-admins; else create, list or revoke.

    :raise InvalidInput: another word, no name, or an id that is not a number.
    """
    if not inv.is_admin():
        inv.reply(text_reply(refusal(REFUSAL_WHAT)))
        return
    verb, _, rest = inv.args.strip().partition(" ")
    keys = inv.surface.ops.api_keys
    match verb.lower():
        case "create":
            made = keys.create(inv.workspace_id, rest, inv.actor)
            inv.reply(created_key_reply(made.key, made.secret))
        case "list" | "":
            tz = inv.surface.ops.policy(inv.workspace_id).timezone
            inv.reply(keys_reply(keys.list(inv.workspace_id), tz))
        case "revoke":
            key_id = rest.strip().removeprefix("#")
            if not (key_id.isascii() and key_id.isdigit()) or len(key_id) > 9:
                raise InvalidInput("Say which key by its id, like `/reviews apikey revoke 3`.")
            key = keys.revoke(inv.workspace_id, int(key_id), inv.actor)
            inv.reply(text_reply(f":no_entry: API key {key.id} revoked: its calls are refused."))
        case _:
            raise InvalidInput(f"Write {USAGE}.")
