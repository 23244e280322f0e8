"""The /reviews slash command: acked first, parsed, one use-case called, the person who asked
answered."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from typing import Any

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient

from bot.domain.errors import Conflict, DomainError, InvalidInput
from bot.domain.numbers import parse_numbers
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_edit import as_display_rows, parse_setting_assignments
from bot.domain.setting_help import setting_help
from bot.usecases import history
from handlers import apikeys, audit, export, imports, stats
from handlers.blocks.common import Reply, metadata, text_reply
from handlers.blocks.customer import customer_lookup_reply, delete_prompt
from handlers.blocks.detail import detail_reply
from handlers.blocks.help import help_reply
from handlers.blocks.listing import Row, bulk_reply, cancel_all_prompt, list_reply
from handlers.blocks.orders import order_events_reply, skipped_hint
from handlers.blocks.send import created_reply, created_why, send_modal
from handlers.blocks.settings_show import settings_help_reply, settings_reply
from handlers.delivery_keys import command_key
from handlers.edit import open_edit
from handlers.errors import refusals, to_command
from handlers.invocation import Invocation
from handlers.parsing import (
    PageState,
    parse_list_query,
    split_command,
)
from handlers.permissions import refusal
from handlers.quick_send import parse_quick_send
from handlers.settings_view import WHAT as WHAT_SETTINGS
from handlers.settings_view import open_settings
from handlers.surface import Registered, Surface, actor_of, services

log = logging.getLogger(__name__)

COMMAND = "/reviews"
PAGE_SIZE = 10


@refusals(to_command)
def reviews_command(
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """Answer /reviews: run the subcommand typed, for the person who typed it."""
    surface = services(context)
    command = split_command(str(body.get("text", "")))
    inv = Invocation(
        surface=surface,
        workspace_id=surface.workspace_id(context),
        team_id=str(context.team_id or ""),
        actor=actor_of(body),
        channel_id=str(body.get("channel_id", "")),
        args=command.args,
        trigger_id=str(body.get("trigger_id", "")),
        response_url=str(body.get("response_url", "")),
        respond=respond,
        client=client,
    )
    handler = SUBCOMMANDS.get(command.name)
    if handler is None:
        inv.reply(help_reply(unknown=command.name))
        return
    handler(inv)


def register(bolt: App, registered: Registered) -> None:
    """Listen to /reviews."""
    bolt.command(COMMAND)(reviews_command)
    registered.commands.append(COMMAND)


# --- subcommands --------------------------------------------------------------------------------


def do_help(inv: Invocation) -> None:
    inv.reply(help_reply())


def do_send(inv: Invocation) -> None:
    """Open the send modal, or create a request from the quick form."""
    policy = inv.surface.ops.policy(inv.workspace_id)
    if not inv.args:
        view = send_modal(
            policy,
            private_metadata=metadata(c=inv.channel_id or None, r=inv.response_url or None),
        )
        inv.client.views_open(trigger_id=inv.trigger_id, view=view)
        return
    data = parse_quick_send(
        inv.args,
        now=inv.surface.app.clock.now(),
        timezone=policy.timezone,
        origin_channel=inv.channel_id or None,
    )
    try:
        # Once per command: Slack's retry of it gets a quiet ack (handlers/errors.py).
        key = command_key(inv.trigger_id)
        request = inv.surface.ops.create(inv.workspace_id, data, inv.actor, key=key)
    except DomainError as exc:
        hint = " (Add `force:yes` to send anyway.)" if isinstance(exc, Conflict) else ""
        raise InvalidInput(f"Nothing was sent. {exc.message}{hint}") from exc
    why = created_why(data, request, policy)
    inv.reply(created_reply(request, tz=policy.timezone, why=why))


def do_list(inv: Invocation) -> None:
    if inv.args.strip().lower() == "orders":
        orders = inv.surface.ops.orders
        tz = inv.surface.ops.policy(inv.workspace_id).timezone
        skipped = orders.skipped_lately(inv.workspace_id)
        inv.reply(order_events_reply(orders.recent(inv.workspace_id), skipped=skipped, tz=tz))
        return
    inv.reply(
        render_list(
            inv.surface, inv.workspace_id, inv.actor.id, PageState(inv.args), admin=inv.is_admin
        )
    )


def do_show(inv: Invocation) -> None:
    head, _, rest = inv.args.partition(" ")
    if head.lower() == "customer":
        lookup = inv.surface.ops.find_customer(inv.workspace_id, rest)
        tz = inv.surface.ops.policy(inv.workspace_id).timezone
        inv.reply(customer_lookup_reply(lookup, tz=tz, admin=inv.is_admin()))
        return
    numbers = parse_numbers(inv.args)
    if len(numbers) != 1:
        raise InvalidInput("Show one request at a time, like `/reviews show #42`.")
    detail = inv.surface.ops.show(inv.workspace_id, numbers[0])
    inv.reply(detail_reply(detail, inv.surface.sender_info()))


def do_edit(inv: Invocation) -> None:
    """Open the form that corrects a request before it goes out."""
    numbers = parse_numbers(inv.args)
    if len(numbers) != 1:
        raise InvalidInput("Edit one request at a time, like `/reviews edit #42`.")
    open_edit(
        inv.surface,
        inv.client,
        inv.workspace_id,
        numbers[0],
        trigger_id=inv.trigger_id,
        response_url=inv.response_url,
        channel_id=inv.channel_id,
    )


def do_pause(inv: Invocation) -> None:
    result = inv.surface.ops.pause(inv.workspace_id, parse_numbers(inv.args), inv.actor)
    inv.reply(bulk_reply(result, "paused"))


def do_resume(inv: Invocation) -> None:
    result = inv.surface.ops.resume(inv.workspace_id, parse_numbers(inv.args), inv.actor)
    inv.reply(bulk_reply(result, "resumed"))


def do_cancel(inv: Invocation) -> None:
    words = inv.args.lower().split()
    if words and words[0] == "all":
        if words[1:] not in ([], ["queued"]):
            raise InvalidInput("Write `/reviews cancel all queued`.")
        if not inv.is_admin():
            inv.reply(text_reply(refusal("cancel every queued request")))
            return
        count = inv.surface.ops.count_queued(inv.workspace_id)
        if count == 0:
            inv.reply(text_reply("Nothing is queued or paused, so there is nothing to cancel."))
            return
        inv.reply(cancel_all_prompt(count))
        return
    result = inv.surface.ops.cancel(inv.workspace_id, parse_numbers(inv.args), inv.actor)
    inv.reply(bulk_reply(result, "canceled"))


def do_delete(inv: Invocation) -> None:
    """Ask an admin to confirm erasing one request for good."""
    numbers = parse_numbers(inv.args)
    if len(numbers) != 1:
        raise InvalidInput("Delete one request at a time, like `/reviews delete #42`.")
    if not inv.is_admin():
        inv.reply(text_reply(refusal("delete requests")))
        return
    if inv.surface.ops.show(inv.workspace_id, numbers[0]).request.deleted_at is not None:
        raise InvalidInput(f"#{numbers[0]} is already deleted.")
    inv.reply(delete_prompt(numbers[0]))


def do_settings(inv: Invocation) -> None:
    """Open the settings form for admins; show the settings to anyone; `set` for admins only."""
    ops = inv.surface.ops
    admin = inv.is_admin()
    words = inv.args.split(maxsplit=1)
    if not words:
        if not admin:
            inv.reply(text_reply(refusal(WHAT_SETTINGS) + " `/reviews settings show` lists them."))
            return
        open_settings(
            inv.surface,
            inv.client,
            inv.workspace_id,
            trigger_id=inv.trigger_id,
            channel_id=inv.channel_id,
            response_url=inv.response_url,
            team_id=inv.team_id,
        )
        return
    if words[0].lower() == "show":
        inv.reply(settings_reply(as_display_rows(ops.policy(inv.workspace_id)), admin=admin))
        return
    if words[0].lower() == "help":
        inv.reply(settings_help_reply(setting_help()))
        return
    if words[0].lower() != "set":
        raise InvalidInput(
            "Write `/reviews settings`, `/reviews settings show`, `/reviews settings help` or "
            "`/reviews settings set key=value ...`."
        )
    if not admin:
        inv.reply(text_reply(refusal(WHAT_SETTINGS)))
        return
    try:
        pairs = shlex.split(words[1] if len(words) > 1 else "")
    except ValueError as exc:
        raise InvalidInput(f"I can't read that: {exc}.") from exc
    policy = parse_setting_assignments(ops.policy(inv.workspace_id), pairs)
    ops.update_policy(inv.workspace_id, policy, inv.actor)
    keys = ", ".join(p.partition("=")[0] for p in pairs)
    inv.reply(text_reply(f":white_check_mark: Settings saved: {keys}."))


SUBCOMMANDS: dict[str, Callable[[Invocation], None]] = {
    "apikey": apikeys.run_command,
    "audit": audit.run_command,
    "stats": stats.run_command,
    "export": export.run_command,
    "import": imports.run_command,
    "help": do_help,
    "send": do_send,
    "list": do_list,
    "show": do_show,
    "pause": do_pause,
    "resume": do_resume,
    "cancel": do_cancel,
    "delete": do_delete,
    "edit": do_edit,
    "settings": do_settings,
}


# --- shared with the buttons --------------------------------------------------------------------


def render_list(
    surface: Surface,
    workspace_id: int,
    user_id: str,
    state: PageState,
    *,
    note: str | None = None,
    admin: Callable[[WorkspacePolicy], bool],
) -> Reply:
    """Read one page of the history for a page state and build it (with Delete for admins).

    The workspace's settings are read once, for the filter, the skipped-orders line and who
    administers (`admin`, asked with them).

    :raise InvalidInput: the filter text is wrong (the reply names the filter).
    """
    policy = surface.ops.policy(workspace_id)
    query = parse_list_query(
        state.query, timezone=policy.timezone, user_id=user_id, region=policy.region
    )
    page = history.list_page(
        surface.app.db,
        workspace_id,
        query.filter,
        after=state.after,
        before=state.before,
        limit=PAGE_SIZE,
    )
    rows = [Row(listed.request, listed.waiting) for listed in page.rows]
    base = PageState(query.text)
    hint = skipped_hint(surface.ops.orders.skipped_lately(workspace_id, policy))
    note = "\n".join(n for n in (note, hint) if n) or None
    return list_reply(
        rows,
        state=PageState(query.text, state.after, state.before),
        f=query.filter,
        counts=page.counts,
        next_state=PageState(base.query, after=page.next) if page.next else None,
        prev_state=PageState(base.query, before=page.prev) if page.prev else None,
        note=note,
        admin=admin(policy),
        tz=policy.timezone,
    )
