"""`/reviews stats ... chart`: the period's chart, sent to the asker in a direct message.

The stats answer is for the asker's eyes only (ephemeral); so is its chart: posted in the
channel, it would show the numbers to everyone there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.charts import chart_alt_text, render_chart
from bot.domain.digest import series_buckets
from bot.slack_files import upload_bytes
from bot.usecases import history
from handlers.blocks.common import text_reply
from handlers.blocks.digest import stats_chart_text
from handlers.invocation import Invocation

if TYPE_CHECKING:
    from bot.usecases.periods import StatsPeriod


def send_chart(inv: Invocation, period: StatsPeriod, *, timezone: str) -> str:
    """Draw the period's chart (the period before it compared), post it in the asker's DM.

    Returns the file's id.

    :raise SlackApiError: Slack refused a call (told to the asker by the command's dispatcher).
    :raise SlackRequestError: the upload URL did not take the image (told likewise).
    """
    app = inv.surface.app
    end = period.end or app.clock.now()
    buckets = series_buckets(period.start, end, timezone=timezone)
    report = history.detailed_report(
        app.db,
        inv.workspace_id,
        start=period.start,
        end=end,
        previous_start=period.start - (end - period.start),
        buckets=[(b.start, b.end) for b in buckets],
    )
    png = render_chart(report, title=f"Reviews: {period.label}", timezone=timezone)
    dm = str(inv.client.conversations_open(users=inv.actor.id)["channel"]["id"])
    file_id = upload_bytes(
        inv.client,
        channel=dm,
        filename=f"reviews-chart-{period.start:%Y%m%d}-{end:%Y%m%d}.png",
        content=png,
        title=f"Reviews chart: {period.label}",
        initial_comment=stats_chart_text(report, label=period.label, timezone=timezone),
        alt_txt=chart_alt_text(report, timezone=timezone),
    )
    inv.reply(text_reply(":bar_chart: I sent you the chart in our direct message."))
    return file_id
