"""`reviewops apikey create NAME | list | revoke ID`: the workspace's keys to the REST API."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli import WorkspaceOpt, cli, cli_actor, opened_app, workspace_id
from bot.domain.timing import format_local

apikey_cli = typer.Typer(help="Keys to the REST API (/api/v1).", no_args_is_help=True)
cli.add_typer(apikey_cli, name="apikey")


@apikey_cli.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the key is for, like zapier.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Make a key and print its secret, once: it is stored only as a hash."""
    with opened_app() as app:
        made = app.ops.api_keys.create(workspace_id(app, workspace, sends=True), name, cli_actor())
    typer.echo(f"API key {made.key.id} ({made.key.name}) created. Its secret, shown only now:")
    typer.echo(made.secret)
    typer.echo("Send it as `Authorization: Bearer <secret>`.", err=True)


@apikey_cli.command("list")
def list_(workspace: WorkspaceOpt = None) -> None:
    """List the keys: id, name, first characters, creator, last use, revoked or not."""
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        keys = app.ops.api_keys.list(ws)
        tz = app.ops.policy(ws).timezone
    if not keys:
        typer.echo("No API keys yet: `reviewops apikey create NAME` makes one.")
        return
    typer.echo(f"{'id':>4}  {'name':<24} {'key':<12} {'created by':<20} {'last used':<22} state")
    for key in keys:
        used = format_local(key.last_used_at, tz) if key.last_used_at else "never"
        state = f"revoked {format_local(key.revoked_at, tz)}" if key.revoked_at else "active"
        creator = key.created_by_name or key.created_by
        typer.echo(
            f"{key.id:>4}  {key.name[:24]:<24} {key.prefix + '…':<12} {creator[:20]:<20} "
            f"{used:<22} {state}"
        )


@apikey_cli.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(metavar="ID", help="The key's id, from `list`.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Revoke a key for good: its next call is refused (401)."""
    with opened_app() as app:
        key = app.ops.api_keys.revoke(workspace_id(app, workspace), key_id, cli_actor())
    typer.echo(f"API key {key.id} ({key.name}) revoked.")
