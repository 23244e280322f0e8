"""The digest's chart (and `/reviews stats ... chart`): a PNG of the funnel per channel and a
series per day, drawn with matplotlib's Agg canvas.

matplotlib is imported only when a chart is drawn: it is heavy, and a `serve` process that
never draws one keeps its memory. No pyplot: a Figure of its own per call, no global state, so
two threads may draw at once. The output is deterministic (fixed size and DPI, bundled font,
no software or date in the metadata): the same numbers give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.domain.channels import channels_label
from bot.usecases.history_period import DayTally, DetailedReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH_INCHES, HEIGHT_INCHES, DPI = 11.0, 5.0, 110
STAGES = ("Sent", "Delivered", "Opened", "Clicked")
# Okabe & Ito's palette, told apart with any colour vision; bars also carry their numbers.
BLUE, ORANGE, GREEN, PINK, VERMILLION, SKY, GREY = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#6E6E6E",
)
CHANNEL_COLOURS = (BLUE, ORANGE, GREEN, PINK)
MAX_ALT_TEXT = 1000  # Slack's limit for an image's alt text
MAX_DAY_LABELS = 10


def _funnel(ax: Axes, report: DetailedReport) -> None:
    channels = list(report.stats.by_channel.items())
    ax.set_title("Funnel by channel", loc="left", fontsize=12, fontweight="bold")
    if not channels:
        ax.text(0.5, 0.5, "No requests in this period", ha="center", va="center", color=GREY)
        ax.set_axis_off()
        return
    width = 0.8 / len(channels)
    for i, (channel, tally) in enumerate(channels):
        values = (tally.sent, tally.delivered, tally.opened, tally.clicked)
        xs = [stage + (i - (len(channels) - 1) / 2) * width for stage in range(len(STAGES))]
        bars = ax.bar(
            xs,
            values,
            width * 0.92,
            label=channels_label(channel),
            color=CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)],
        )
        labels = [f"{v:,}" for v in values]
        if channel == "sms":
            labels[2] = "n/a"  # a text message has no open to see
        ax.bar_label(bars, labels=labels, fontsize=8, padding=2)
    ax.set_xticks(range(len(STAGES)), STAGES)
    ax.set_ylabel("Requests")
    ax.margins(y=0.15)
    # Below the stages: a title and four channels don't fit on one line above.
    ax.legend(frameon=False, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=4)
    _plain(ax)


def _day_labels(points: Sequence[DayTally], timezone: str) -> list[date]:
    zone = ZoneInfo(timezone)
    return [p.start.astimezone(zone).date() for p in points]


def _width(days: Sequence[date]) -> int:
    """Days per point (a long period groups days): the distance between two points' days."""
    return (days[1] - days[0]).days if len(days) > 1 else 1


def _series(ax: Axes, report: DetailedReport, timezone: str) -> None:
    points = report.series
    days = _day_labels(points, timezone)
    width = _width(days)
    title = "Per day" if width == 1 else f"Per {width} days"
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    if not points:
        ax.set_axis_off()
        return
    xs = list(range(len(points)))
    ax.bar(xs, [p.tally.sent for p in points], 0.7, color=SKY, label="Sent")
    marks = len(points) <= 31  # markers on a long series would hide its line
    ax.plot(
        xs,
        [p.tally.clicked for p in points],
        color=GREEN,
        marker="o" if marks else None,
        lw=2,
        label="Clicked",
    )
    ax.plot(
        xs,
        [p.tally.failed for p in points],
        color=VERMILLION,
        marker="s" if marks else None,
        lw=2,
        linestyle="--",
        label="Failed",
    )
    every = max(1, -(-len(points) // MAX_DAY_LABELS))  # label at most MAX_DAY_LABELS points
    ticks = xs[::every]
    shown = "%a %d %b" if every == 1 else "%d %b"
    if days[-1].year != days[0].year:
        shown = "%d %b %Y"
    ax.set_xticks(ticks, [f"{days[i]:{shown}}" for i in ticks])
    ax.tick_params(axis="x", labelsize=8, labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_ylabel("Requests created" + (" that day" if width == 1 else f" in {width} days"))
    peak = max(max(p.tally.sent, p.tally.clicked, p.tally.failed) for p in points)
    ax.set_ylim(0, max(peak * 1.15, 5))  # an empty period still reads 0 to 5 requests
    # Above the plot, right of its title: never over a bar or a point.
    ax.legend(frameon=False, fontsize=9, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3)
    _plain(ax)


def _plain(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.spines[["top", "right"]].set_visible(False)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.8)
    ax.set_axisbelow(True)


def render_chart(report: DetailedReport, *, title: str, timezone: str) -> bytes:
    """Draw the funnel per channel and the series per day as PNG bytes.

    `title` is ours (a period's label), never a customer's or user's text: matplotlib reads
    `$...$` in text as mathematics.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontsize=14, x=0.01, ha="left")
    funnel, per_day = figure.subplots(1, 2, width_ratios=(1, 1.25))
    _funnel(funnel, report)
    _series(per_day, report, timezone)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def chart_alt_text(report: DetailedReport, *, timezone: str) -> str:
    """Say in words what the chart shows, for people who can't see it (at most 1,000 chars)."""
    parts = []
    for channel, t in report.stats.by_channel.items():
        parts.append(
            f"{channels_label(channel)}: {t.sent:,} sent, {t.delivered:,} delivered, "
            f"{t.opened:,} opened, {t.clicked:,} clicked"
        )
    funnel = "; ".join(parts) or "no requests in this period"
    text = f"Chart. Funnel by channel: {funnel}."
    if report.series:
        days = _day_labels(report.series, timezone)
        busiest = max(range(len(report.series)), key=lambda i: report.series[i].tally.sent)
        most = report.series[busiest].tally
        width = _width(days)
        per = "day" if width == 1 else f"{width} days"
        text += (
            f" Per {per} from {days[0]:%d %b %Y} to {days[-1]:%d %b %Y}: busiest "
            f"{'' if width == 1 else 'from '}{days[busiest]:%d %b} with {most.sent:,} sent, "
            f"{most.clicked:,} clicked."
        )
    return text[:MAX_ALT_TEXT]
