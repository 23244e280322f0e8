"""`reviewops customer export VALUE [--out FILE|-]`: one customer's data as JSON.

Read by `customer` in bot/cli_history.py; the JSON is written by bot/customer_export.py.
"""

from __future__ import annotations

import os
import sys

import typer

from bot.app import ReviewOpsApp
from bot.cli import cli_actor, fail
from bot.customer_export import masked_customer, read_contact, write_customer_json


def check_out(out: str) -> None:
    """Refuse a --out the JSON can't be written to, before anything is read."""
    if os.path.isdir(out):
        fail(f"--out: '{out}' is a directory; give a file name, like customer.json.")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        fail(f"--out: there is no folder '{folder}'.")


def export_customer(app: ReviewOpsApp, ws: int, contact_id: int, out: str) -> None:
    """Write the customer's JSON to stdout or a file (whole or not at all); audit it."""
    contact = read_contact(app.db, ws, contact_id)
    now = app.clock.now()
    if out == "-":
        sys.stdout.flush()
        count = write_customer_json(app.db, ws, contact_id, sys.stdout.buffer, now=now)
        sys.stdout.buffer.flush()
    else:
        partial = f"{out}.partial"
        try:
            with open(partial, "wb") as target:
                count = write_customer_json(app.db, ws, contact_id, target, now=now)
            os.replace(partial, out)
        except BaseException as exc:
            if os.path.exists(partial):
                os.remove(partial)
            if isinstance(exc, OSError):
                fail(f"--out: can't write '{out}': {exc.strerror or exc}.")
            raise
    detail = {"requests": count}
    app.ops.audit.note(
        ws, cli_actor(), "customer_export", target=masked_customer(contact), detail=detail
    )
    where = f" to {out}" if out != "-" else ""
    typer.echo(f"{count} requests of {masked_customer(contact)} exported{where}", err=True)
