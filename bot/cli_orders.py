"""`reviewops orders [--limit N] [--json]`: what the shops' order events did, as
`/reviews list orders` says it (which order, asked / skipped / canceled, and why)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli import WorkspaceOpt, cli, opened_app, workspace_id
from bot.cli_json import emit, iso
from bot.domain.orders import OUTCOME_WORDS, event_title
from bot.domain.timing import format_local
from bot.domain.typed_text import without_control_characters

MAX_LIMIT = 500


@cli.command()
def orders(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="How many events, newest first.")
    ] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List the latest order events (Shopify, Stripe): what each did and why an order was skipped."""
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        tz = app.ops.policy(ws).timezone
        events = app.ops.orders.recent(ws, limit=limit)
        skipped = app.ops.orders.skipped_lately(ws)
    if as_json:
        emit(
            {
                "events": [
                    {
                        "received_at": iso(e.received_at),
                        "source": e.source,
                        "kind": e.kind,
                        "reference": e.reference,
                        "outcome": e.outcome,
                        "reason": e.reason,
                        "numbers": list(e.numbers),
                    }
                    for e in events
                ],
                "skipped_last_7_days": skipped,
            }
        )
        return
    if not events:
        typer.echo("No order event yet: set a shop's secret with `reviewops settings set`.")
    for e in events:
        # A shop's text (its reference, our reason quoting it) never moves the terminal.
        title = without_control_characters(event_title(e.source, e.kind, e.reference))
        line = (
            f"{format_local(e.received_at, tz)}  {title}  {OUTCOME_WORDS.get(e.outcome, e.outcome)}"
        )
        if e.numbers:
            line += " " + ", ".join(f"#{n}" for n in e.numbers)
        if e.reason:
            line += f": {without_control_characters(e.reason)}"
        typer.echo(line)
    typer.echo(f"Skipped in the last 7 days: {skipped}. Order events are kept 90 days.")
