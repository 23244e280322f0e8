"""`reviewops import FILE` (a dry run, then the requests) and `reviewops import cancel ID`.

Progress goes to standard error through the CLI's progress bar (bot/cli_progress.py): a live
bar on a terminal, a few plain lines when piped. The file is checked again after the prompt;
the import's id is printed before its first batch, and again with its cancel command if it
stops partway (exit 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.app import ReviewOpsApp
from bot.cli import WorkspaceOpt, cli, cli_actor, fail, opened_app, workspace_id
from bot.cli_progress import progress
from bot.compose import SAMPLE_TOKEN
from bot.domain.channels import METHOD_LABELS
from bot.domain.errors import InvalidInput
from bot.domain.import_file import MAX_FILE_BYTES, ImportFile, read_csv
from bot.domain.timing import parse_delay
from bot.usecases.history import read_import_id
from bot.usecases.import_plan import SKIP_KINDS, ImportOptions, ImportPlan
from bot.usecases.importing import ImportFailed

SHOWN_PER_KIND = 5
SKIP_TITLES = {
    "invalid": "invalid",
    "duplicate": "duplicate rows in the file",
    "cooldown": "within the cooldown",
    "opted_out": "opted out",
    "erased": "erased customers",
}


def read_file(path: Path) -> ImportFile:
    """Read a customer list from disk, bounded; a problem exits 2 naming the file's line."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        fail(f"can't read {path}: {exc.strerror or exc}.")
    try:
        return read_csv(data)
    except InvalidInput as exc:
        fail(f"{path.name}: {exc.message}")


def options_of(via: str | None, delay: str | None, consent: bool) -> ImportOptions:
    """Read --via and --delay (`now`, or a delay like 2h or 1d), or exit 2 naming the option."""
    if via is not None and via not in METHOD_LABELS:
        fail(f"--via must be one of {', '.join(METHOD_LABELS)}.")
    if delay is None:
        return ImportOptions(method=via, consent=consent)  # type: ignore[arg-type]
    if delay.strip().lower() in ("now", "0"):
        return ImportOptions(method=via, when="now", consent=consent)  # type: ignore[arg-type]
    try:
        wait = parse_delay(delay)
    except InvalidInput as exc:
        fail(f"--delay: {exc.message}")
    return ImportOptions(method=via, delay=wait, consent=consent)  # type: ignore[arg-type]


def print_plan(name: str, file: ImportFile, plan: ImportPlan) -> None:
    """Print the dry run: what will be sent, what is skipped and why, what it costs."""
    typer.echo(
        f"{name}: {plan.total:,} rows ({file.encoding}, '{file.delimiter}'), "
        f"columns: {', '.join(file.fields)}"
    )
    if file.ignored:
        typer.echo(f"  columns not used: {', '.join(file.ignored)}")
    typer.echo(f"  to send: {len(plan.ready):,}")
    for row in plan.ready[:SHOWN_PER_KIND]:
        typer.echo(f"    line {row.line}: {row.plan.name} by {'+'.join(row.plan.channels)}")
    typer.echo(f"  skipped: {plan.skipped_count:,}")
    for kind in SKIP_KINDS:
        rows = plan.skipped[kind]
        if not rows:
            continue
        typer.echo(f"    {SKIP_TITLES[kind]}: {len(rows):,}")
        for skipped in rows[:SHOWN_PER_KIND]:
            typer.echo(f"      line {skipped.line}: {skipped.reason}")
    sms = sum(1 for r in plan.ready if r.segments)
    typer.echo(
        f"  SMS: {sms:,} messages, {plan.segments:,} segments, "
        f"est. {plan.cost.normalize():f} {plan.currency}"
    )


@cli.command(name="import")
def import_(
    target: Annotated[str, typer.Argument(help="The CSV file, or `cancel`.", metavar="FILE")],
    import_id: Annotated[
        str | None, typer.Argument(help="With `cancel`: the import's id.", show_default=False)
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be sent and skipped.")
    ] = False,
    via: Annotated[
        str | None, typer.Option(help="sms, whatsapp, email, sms_or_email or sms_and_email.")
    ] = None,
    delay: Annotated[
        str | None, typer.Option(help="now, or a delay like 2h or 1d (default: the setting).")
    ] = None,
    consent: Annotated[
        bool, typer.Option("--consent", help="The customers agreed to be contacted.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Don't ask for confirmation.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Ask every customer of a CSV file for a review (`import cancel ID` cancels an import)."""
    if target == "cancel" and import_id is not None:
        _cancel(import_id, workspace)
        return
    if import_id is not None:
        fail("Give one file (or `cancel ID`).")
    path = Path(target)
    options = options_of(via, delay, consent)
    file = read_file(path)
    with opened_app() as app:
        ws = workspace_id(app, workspace, sends=True)
        link = f"{app.settings.public_url.rstrip('/')}/r/{SAMPLE_TOKEN}"
        plan = _checked(app, ws, file, options, link)
        print_plan(path.name, file, plan)
        if dry_run:
            return
        if not plan.ready:
            typer.echo("Nothing to send.", err=True)
            raise typer.Exit(code=1)
        if not yes:
            if not typer.confirm(f"Send {len(plan.ready):,} requests?"):
                raise typer.Exit(code=1)
            # The prompt may have waited for hours: check again (each batch checks once more).
            plan = _checked_again(app, ws, file, options, link, plan)
        _create(app, ws, plan, path.name)


def _checked(
    app: ReviewOpsApp, ws: int, file: ImportFile, options: ImportOptions, link: str
) -> ImportPlan:
    """Run the dry run; the consent refusal is named by its option."""
    try:
        return app.ops.imports.check(ws, file, options, sms_link=link)
    except InvalidInput as exc:
        if exc.field != "consent":
            raise
        fail(f"--consent: {exc.message}")


def _checked_again(
    app: ReviewOpsApp, ws: int, file: ImportFile, options: ImportOptions, link: str, was: ImportPlan
) -> ImportPlan:
    """Check the file again after the prompt (the workspace may have changed while it waited)."""
    plan = _checked(app, ws, file, options, link)
    if len(plan.ready) != len(was.ready):
        typer.echo(
            f"Checked again: {len(plan.ready):,} to send now (was {len(was.ready):,}).", err=True
        )
    if not plan.ready:
        typer.echo("Nothing to send.", err=True)
        raise typer.Exit(code=1)
    return plan


def _create(app: ReviewOpsApp, ws: int, plan: ImportPlan, name: str) -> None:
    """Create the requests; say the import's id first, then what was created or why it stopped."""

    def started(import_id: int) -> None:
        typer.echo(f"Import {import_id}: cancel it with: reviewops import cancel {import_id}")

    total = len(plan.ready)
    with progress(total, verb="created", noun="requests", label="importing") as on_progress:
        try:
            done = app.ops.imports.confirm(
                ws, plan, cli_actor(), file_name=name, on_progress=on_progress, on_start=started
            )
        except ImportFailed as exc:
            typer.echo(
                f"error: {exc.message} Cancel them with: reviewops import cancel {exc.import_id}",
                err=True,
            )
            raise typer.Exit(code=1) from None
    if done.canceled:
        typer.echo(f"Import {done.import_id} was canceled while it ran: {done.created:,} created.")
        raise typer.Exit(code=1)
    span = f" (#{done.first_number}-#{done.last_number})" if done.first_number else ""
    typer.echo(f"Import {done.import_id}: {done.created:,} requests created{span}.")
    if done.skipped:
        typer.echo(f"  skipped since the check: {len(done.skipped):,}")
        for kind, skipped in done.skipped[:SHOWN_PER_KIND]:
            typer.echo(f"    line {skipped.line} ({SKIP_TITLES[kind]}): {skipped.reason}")
    typer.echo(f"Cancel it with: reviewops import cancel {done.import_id}")


def _cancel(raw: str, workspace: str | None) -> None:
    try:
        number = read_import_id(raw)
    except InvalidInput:
        fail(f"'{raw[:20]}' is not an import id (a number, like 3).")
    with opened_app() as app:
        result = app.ops.cancel_import(workspace_id(app, workspace), number, cli_actor())
        if not result.changed and not result.refused:
            typer.echo(f"Nothing of import {number} was waiting: nothing to cancel.")
            return
        # One line, not one per request: an import may hold 100,000.
        typer.echo(f"Import {number}: {len(result.changed):,} requests canceled.")
        for request, reason in result.refused[:SHOWN_PER_KIND]:
            typer.echo(f"#{request} not canceled: {reason}", err=True)
        if result.refused and not result.changed:
            raise typer.Exit(code=1)
