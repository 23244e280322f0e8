"""`/reviews audit [by:@user] [action:X] [from:YYYY-MM-DD] [to:...]`: the trail, for admins.

The words are read here into an `AuditQuery`; `bot.usecases.audit.audit_filter` checks them.
The page is ephemeral; Next redraws it with the entries after the last one shown.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.bounds import within
from bot.domain.errors import InvalidInput
from bot.usecases.audit import AuditQuery, audit_filter
from handlers.blocks.audit import AUDIT_NEXT, AuditLine, AuditState, audit_reply
from handlers.blocks.common import Reply, text_reply
from handlers.errors import in_place, refusals
from handlers.invocation import Invocation
from handlers.parsing import parse_day
from handlers.permissions import refusal
from handlers.surface import Registered, Surface, actor_of, first_action, services

PAGE_SIZE = 20
REFUSAL_WHAT = "read the audit trail"
KEYS = ("by", "action", "from", "to")
MAX_QUERY_CHARS = 500  # fits a button's value with a cursor


def parse_audit_query(text: str) -> AuditQuery:
    """Read `by:`, `action:`, `from:` and `to:`.

    :raise InvalidInput: another word, a key without a value, or a day that can't be read.
    """
    values: dict[str, str] = {}
    for word in within(text or "", MAX_QUERY_CHARS, what="The audit filter").split():
        key, sep, value = word.partition(":")
        key = key.lower()
        if not sep or key not in KEYS or not value:
            raise InvalidInput(
                f"I can't read '{word}': write `/reviews audit [by:@user] [action:X] "
                "[from:YYYY-MM-DD] [to:YYYY-MM-DD]`.",
                field="audit",
            )
        values[key] = value
    return AuditQuery(
        actor=values.get("by"),
        action=values.get("action"),
        day_from=parse_day(values["from"], "from") if "from" in values else None,
        day_to=parse_day(values["to"], "to") if "to" in values else None,
    )


def render_audit(surface: Surface, workspace_id: int, state: AuditState) -> Reply:
    """Read one page of the trail for a state and build it.

    :raise InvalidInput: the filter is wrong (the reply names it).
    """
    tz = surface.ops.policy(workspace_id).timezone
    f = audit_filter(parse_audit_query(state.query), timezone=tz)
    page = surface.ops.audit.page(workspace_id, f, after=state.after, limit=PAGE_SIZE)
    lines = [
        AuditLine(r.at, r.actor_id, r.actor_name, r.origin, r.action, r.target, r.detail)
        for r in page.rows
    ]
    return audit_reply(lines, state=state, next_after=page.next, tz=tz)


def run_command(inv: Invocation) -> None:
    """`/reviews audit ...`: refuse non-admins; else the first page."""
    if not inv.is_admin():
        inv.reply(text_reply(refusal(REFUSAL_WHAT)))
        return
    inv.reply(render_audit(inv.surface, inv.workspace_id, AuditState(inv.args.strip())))


@refusals(in_place)
def next_page(
    body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Redraw the trail with the page after the one shown (admins only, asked again)."""
    surface = services(context)
    ws = surface.workspace_id(context)
    if not surface.is_admin(client, context, actor_of(body).id):
        respond(replace_original=True, **text_reply(refusal(REFUSAL_WHAT)).as_kwargs())
        return
    try:
        state = AuditState.decode(str(first_action(body).get("value", "")))
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput("That page can't be read any more: run `/reviews audit` again.") from exc
    respond(replace_original=True, **render_audit(surface, ws, state).as_kwargs())


def register(bolt: App, registered: Registered) -> None:
    """Listen to the trail's Next button (the subcommand is `run_command`)."""
    bolt.action(AUDIT_NEXT)(next_page)
    registered.actions.append(AUDIT_NEXT)
