"""`reviewops export`: every matching request as CSV, to a file or standard output."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from bot.app import ReviewOpsApp
from bot.cli import (
    ByOpt,
    FromOpt,
    ImportOpt,
    RefOpt,
    SearchOpt,
    StatusOpt,
    ToOpt,
    TypeOpt,
    ViaOpt,
    WorkspaceOpt,
    cli,
    cli_actor,
    cli_filter,
    fail,
    filter_criteria,
    opened_app,
    workspace_id,
)
from bot.cli_progress import progress
from bot.export import MIN_PROGRESS_EVERY, ExportOptions, Separator, parse_separator, write_csv
from bot.usecases import history
from bot.usecases.history import HistoryFilter


@cli.command()
def export(
    out: Annotated[
        str, typer.Option("--out", help="CSV file to write, or - for standard output.")
    ] = "-",
    separator: Annotated[str, typer.Option("--separator", help=", or ;")] = ",",
    bom: Annotated[bool, typer.Option("--bom", help="Start with a BOM (Excel).")] = False,
    status: StatusOpt = None,
    via: ViaOpt = None,
    search: SearchOpt = None,
    by: ByOpt = None,
    review_type: TypeOpt = None,
    ref: RefOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    import_id: ImportOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write every matching request as CSV (same columns as Slack's export), newest first."""
    sep = _separator(separator)
    criteria = filter_criteria(status, via, search, by, review_type, ref, from_, to, import_id)
    if out != "-":
        _check_out(out)
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        f = cli_filter(app, ws, criteria)
        options = ExportOptions(separator=sep, bom=bom, timezone=app.ops.policy(ws).timezone)
        total = history.count_matching(app.db, ws, f)
        # Progress goes to stderr, so `--out -` leaves nothing but CSV on stdout.
        # A bar redrawn over CSV printed to the same terminal would garble both.
        live = out != "-" or not sys.stdout.isatty()
        with progress(
            total, verb="exported", noun="requests", label="exporting", live=live
        ) as shown:
            rows = _write(app, ws, f, out, options, shown, every=_every(total))
            shown(rows)  # the bar ends full, whatever the last report was
        app.ops.audit.note(ws, cli_actor(), "export", detail={"rows": rows})
    typer.echo(f"{rows:,} requests exported" + (f" to {out}" if out != "-" else ""), err=True)


def _every(total: int) -> int:
    """Rows between two reports: a bar moves smoothly, without a call per row."""
    return max(1, min(MIN_PROGRESS_EVERY, total // 200))


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
    *,
    every: int,
) -> int:
    """Write the CSV to standard output (`-`) or to a file, whole or not at all."""
    if out == "-":
        sys.stdout.flush()
        stdout = sys.stdout.buffer
        rows = write_csv(app.db, ws, f, stdout, options=options, progress=progress, every=every)
        stdout.flush()
        return rows
    # Written beside the target and renamed at the end: no half file on failure.
    partial = f"{out}.partial"
    try:
        with open(partial, "wb") as target:
            rows = write_csv(app.db, ws, f, target, options=options, progress=progress, every=every)
        os.replace(partial, out)
    except BaseException as exc:
        if os.path.exists(partial):
            os.remove(partial)
        if isinstance(exc, OSError):  # unwritable, read-only, full: nothing was left behind
            fail(f"--out: can't write '{out}': {exc.strerror or exc}.")
        raise
    return rows
