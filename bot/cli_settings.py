"""`reviewops settings show` and `settings set`: a workspace's settings from a shell."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from bot.cli import WorkspaceOpt, cli_actor, opened_app, settings_cli, workspace_id
from bot.domain.policy_edit import as_display_rows, parse_setting_assignments
from bot.domain.setting_help import setting_help


def _keys_help() -> str:
    """The keys `settings set` takes, one paragraph each (Typer joins single lines)."""
    lines = [f"{key}: {meaning} Default: {default}." for key, meaning, default in setting_help()]
    # Help text is Rich markup: a "[...]" in a meaning or default must stay text.
    return "Keys:\n\n" + "\n\n".join(escape(line) for line in lines)


@settings_cli.command("show")
def settings_show(workspace: WorkspaceOpt = None) -> None:
    """Show the workspace settings."""
    with opened_app() as app:
        policy = app.ops.policy(workspace_id(app, workspace))
        for key, value in as_display_rows(policy):
            typer.echo(f"{key:<24} {value}")


@settings_cli.command("set", epilog=_keys_help())
def settings_set(
    pairs: Annotated[list[str], typer.Argument(metavar="KEY=VALUE...")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Change workspace settings: KEY=VALUE ...; all or nothing (the keys are below)."""
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        policy = parse_setting_assignments(app.ops.policy(ws), pairs)
        app.ops.update_policy(ws, policy, cli_actor())
        typer.echo("settings saved")
