"""`reviewops stats [PERIOD] [--json]`: the content of `/reviews stats`, for a shell or a script."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli import WorkspaceOpt, cli, fail, opened_app, workspace_id
from bot.cli_json import emit, stats_json
from bot.domain.channels import channels_label
from bot.domain.errors import InvalidInput
from bot.domain.policy import WorkspacePolicy
from bot.usecases import history
from bot.usecases.history import PeriodReport
from bot.usecases.periods import parse_stats_period, period_words, tally_words

USAGE = "Write `reviewops stats`, `reviewops stats 30d` or `reviewops stats from:2026-11-01 to:2026-11-30`."
MAX_SENDER_LINES = 15


@cli.command()
def stats(
    period: Annotated[
        list[str] | None,
        typer.Argument(
            help="7d (the default), 30d, or from:YYYY-MM-DD, with to:YYYY-MM-DD or not."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Say how the outreach went, as /reviews stats does.

    Of the requests created in the period: sent, delivered, opened, clicked, failed and click
    rate, overall, per channel and per sender; the SMS cost estimate; how many wait now.
    """
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        policy = app.ops.policy(ws)
        try:
            chosen = parse_stats_period(
                " ".join(period or []), now=app.clock.now(), timezone=policy.timezone, usage=USAGE
            )
        except InvalidInput as exc:
            fail(exc.message)
        report = history.period_report(app.db, ws, start=chosen.start, end=chosen.end)
    s = report.stats
    if as_json:
        emit(
            stats_json(
                s,
                chosen,
                timezone=policy.timezone,
                sms_price=policy.sms_price,
                currency=policy.currency,
                waiting=report.waiting,
            )
        )
        return
    _echo_stats(report, chosen.label, policy)


def _echo_stats(report: PeriodReport, label: str, policy: WorkspacePolicy) -> None:
    """Print the stats as `/reviews stats` words them, in plain text."""
    s = report.stats
    typer.echo(f"{label}: {tally_words(s.overall)}")
    typer.echo(f"Requests created {period_words(s, policy.timezone)}.")
    typer.echo("\nBy channel")
    for channel, t in s.by_channel.items():
        typer.echo(f"  {channels_label(channel)}: {tally_words(t)}")
    if not s.by_channel:
        typer.echo("  Nothing yet.")
    typer.echo("\nBy sender")
    for sender in s.by_sender[:MAX_SENDER_LINES]:
        typer.echo(f"  {sender.name or sender.user_id}: {tally_words(sender.tally)}")
    if len(s.by_sender) > MAX_SENDER_LINES:
        typer.echo(f"  …and {len(s.by_sender) - MAX_SENDER_LINES:,} more senders.")
    if not s.by_sender:
        typer.echo("  Nothing yet.")
    price, currency = policy.sms_price, policy.currency
    typer.echo(
        f"\nSMS cost estimate: {s.sms_cost(price)} {currency} "
        f"({s.sms_segments:,} segments in {s.sms_sent:,} SMS × {price} {currency})"
    )
    typer.echo(f"Waiting to go out: {report.waiting:,}")
