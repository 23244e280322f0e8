"""`reviewops export`: every matching request as CSV, to a file or standard output."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated

import click
import typer

from bot.app import ReviewOpsApp
from bot.cli import (
    WorkspaceOpt,
    cli,
    cli_actor,
    cli_filter,
    fail,
    opened_app,
    parse_day,
    workspace_id,
)
from bot.export import ExportOptions, Separator, parse_separator, write_csv
from bot.usecases import history
from bot.usecases.history import Criteria, HistoryFilter


@cli.command()
def export(
    out: Annotated[
        str, typer.Option("--out", help="CSV file to write, or - for standard output.")
    ] = "-",
    separator: Annotated[str, typer.Option("--separator", help=", or ;")] = ",",
    bom: Annotated[bool, typer.Option("--bom", help="Start with a BOM (Excel).")] = False,
    status: Annotated[list[str] | None, typer.Option(help="Status (repeatable).")] = None,
    via: Annotated[str | None, typer.Option(help="sms, whatsapp or email.")] = None,
    search: Annotated[str | None, typer.Option(help="Name, email or phone.")] = None,
    by: Annotated[str | None, typer.Option(help="Slack user id of the sender.")] = None,
    review_type: Annotated[str | None, typer.Option("--type", help="service or product.")] = None,
    ref: Annotated[str | None, typer.Option(help="Order or service reference.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Created on or after this day (YYYY-MM-DD).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Created on or before this day (YYYY-MM-DD).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write every matching request as CSV (same columns as Slack's export), newest first."""
    sep = _separator(separator)
    criteria = Criteria(
        statuses=status or [],
        via=via,
        sender=by,
        review_type=review_type,
        reference=ref,
        created_from=parse_day("--from", from_),
        created_to=parse_day("--to", to),
        text=search,
    )
    if out != "-":
        _check_out(out)
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        f = cli_filter(app, ws, criteria)
        options = ExportOptions(separator=sep, bom=bom, timezone=app.ops.policy(ws).timezone)
        total = history.count_matching(app.db, ws, f)
        # The bar goes to stderr, so `--out -` leaves nothing but CSV on stdout.
        with click.progressbar(
            length=total, label="exporting", file=sys.stderr, show_pos=True
        ) as bar:
            done = 0

            def advance(rows: int) -> None:
                nonlocal done
                bar.update(rows - done)
                done = rows

            rows = _write(app, ws, f, out, options, advance)
            advance(rows)
        app.ops.audit.note(ws, cli_actor(), "export", detail={"rows": rows})
    typer.echo(f"{rows} requests exported" + (f" to {out}" if out != "-" else ""), err=True)


def _check_out(out: str) -> None:
    """Refuse a --out the CSV can't be written to, before anything is read."""
    if os.path.isdir(out):
        fail(
            f"--out: '{out}' is a directory; give a file name, like {os.path.join(out, 'requests.csv')}."
        )
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        fail(f"--out: there is no folder '{folder}'.")


def _separator(value: str) -> Separator:
    try:
        return parse_separator(value)
    except ValueError as exc:
        fail(f"--separator: {exc}")


def _write(
    app: ReviewOpsApp,
    ws: int,
    f: HistoryFilter,
    out: str,
    options: ExportOptions,
    progress: Callable[[int], None],
) -> int:
    """Write the CSV to standard output (`-`) or to a file, whole or not at all."""
    if out == "-":
        sys.stdout.flush()
        stdout = sys.stdout.buffer
        rows = write_csv(app.db, ws, f, stdout, options=options, progress=progress)
        stdout.flush()
        return rows
    # Written beside the target and renamed at the end: no half file on failure.
    partial = f"{out}.partial"
    try:
        with open(partial, "wb") as target:
            rows = write_csv(app.db, ws, f, target, options=options, progress=progress)
        os.replace(partial, out)
    except BaseException as exc:
        if os.path.exists(partial):
            os.remove(partial)
        if isinstance(exc, OSError):  # unwritable, read-only, full: nothing was left behind
            fail(f"--out: can't write '{out}': {exc.strerror or exc}.")
        raise
    return rows
