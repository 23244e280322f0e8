"""`reviewops settings show` and `settings set`: a workspace's settings from a shell."""

from __future__ import annotations

import typer

from bot.cli import WorkspaceOpt, cli_actor, opened_app, settings_cli, workspace_id
from bot.domain.policy import as_display_rows, parse_setting_assignments


@settings_cli.command("show")
def settings_show(workspace: WorkspaceOpt = None) -> None:
    """Show the workspace settings."""
    with opened_app() as app:
        policy = app.ops.policy(workspace_id(app, workspace))
        for key, value in as_display_rows(policy):
            typer.echo(f"{key:<24} {value}")


@settings_cli.command("set")
def settings_set(pairs: list[str], workspace: WorkspaceOpt = None) -> None:
    """Change workspace settings: KEY=VALUE ...; all or nothing."""
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        policy = parse_setting_assignments(app.ops.policy(ws), pairs)
        app.ops.update_policy(ws, policy, cli_actor())
        typer.echo("settings saved")
