"""`reviewops audit`: the audit trail, newest first, for the operator at the terminal."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli import WorkspaceOpt, cli, fail, opened_app, parse_day, workspace_id
from bot.domain.errors import InvalidInput
from bot.domain.timing import format_local
from bot.usecases.audit import AuditQuery, audit_filter


@cli.command()
def audit(
    by: Annotated[
        str | None, typer.Option("--by", help="Who: a Slack user id, cli:NAME or a name.")
    ] = None,
    action: Annotated[str | None, typer.Option("--action", help="settings, delete, ...")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="On or after this day (YYYY-MM-DD).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="On or before this day (YYYY-MM-DD).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show who did which admin action or decision, when and from where, newest first."""
    query = AuditQuery(by, action, parse_day("--from", from_), parse_day("--to", to))
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        tz = app.ops.policy(ws).timezone
        try:
            f = audit_filter(query, timezone=tz)
        except InvalidInput as exc:
            fail(f"--{exc.field}: {exc.message}" if exc.field else exc.message)
        page = app.ops.audit.page(ws, f, limit=limit)
        for row in page.rows:
            who = row.actor_name or row.actor_id
            detail = json.dumps(row.detail, ensure_ascii=False, default=str) if row.detail else ""
            typer.echo(
                f"{format_local(row.at, tz)}  {who} ({row.actor_id}, {row.origin})  "
                f"{row.action}  {row.target or '-'}  {detail}".rstrip()
            )
        if page.next is not None:
            typer.echo(f"(more: raise --limit above {limit} or narrow --from/--to)", err=True)
