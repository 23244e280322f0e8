"""`/reviews stats [7d|30d|from:YYYY-MM-DD to:YYYY-MM-DD] [chart]`: how the outreach went."""

from __future__ import annotations

from bot.usecases import history
from bot.usecases.periods import parse_stats_period
from handlers.blocks.report import stats_reply
from handlers.invocation import Invocation
from handlers.stats_chart import send_chart

USAGE = (
    "Write `/reviews stats`, `/reviews stats 30d` or `/reviews stats from:2026-11-01 "
    "to:2026-11-30`, with `chart` after it for a chart."
)
CHART = "chart"


def wants_chart(text: str) -> tuple[str, bool]:
    """Take the word `chart` out of the command's words; say whether it was there."""
    words = (text or "").split()
    kept = [w for w in words if w.lower() != CHART]
    return " ".join(kept), len(kept) != len(words)


def run_command(inv: Invocation) -> None:
    """Answer with the period's numbers, per channel and per sender, and the SMS cost; with
    `chart`, then send the period's chart in a direct message.

    :raise InvalidInput: the period is wrong (answered by the command's dispatcher).
    """
    app = inv.surface.app
    policy = inv.surface.ops.policy(inv.workspace_id)
    args, chart = wants_chart(inv.args)
    period = parse_stats_period(args, now=app.clock.now(), timezone=policy.timezone, usage=USAGE)
    report = history.period_report(app.db, inv.workspace_id, start=period.start, end=period.end)
    inv.reply(
        stats_reply(
            report.stats,
            label=period.label,
            timezone=policy.timezone,
            sms_price=policy.sms_price,
            currency=policy.currency,
            waiting=report.waiting,
        )
    )
    if chart:
        send_chart(inv, period, timezone=policy.timezone)
