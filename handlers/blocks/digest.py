"""The digest's words (and the stats chart's comment): mrkdwn that carries every figure, so the
message reads whole without its image. Pure: numbers in, text out."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.usecases.history import DetailedReport, Tally
from handlers.text import channel_label, clip, escape, redact

MAX_COMMENT = 3500  # a file's initial comment is a message: kept well under its limits
MAX_REASON = 150  # one failure reason as shown (stored ones are up to 500 characters)
PREVIOUS = {"daily": "the day before", "weekly": "the week before"}


def _share(part: int, whole: int) -> str:
    return f" ({part / whole:.0%})" if whole else ""


def funnel_line(t: Tally) -> str:
    """Sent → delivered → opened → clicked, each with its share of those sent."""
    return (
        f"sent {t.sent:,} → delivered {t.delivered:,}{_share(t.delivered, t.sent)} → "
        f"opened {t.opened:,}{_share(t.opened, t.sent)} → "
        f"clicked {t.clicked:,}{_share(t.clicked, t.sent)}"
    )


def _change(name: str, now: int, before: int) -> str:
    if now == before:
        return f"{name} {now:,} (same)"
    sign = "+" if now > before else "−"
    ratio = f", {sign}{abs(now - before) / before:.0%}" if before else ""
    return f"{name} {now:,} ({sign}{abs(now - before):,}{ratio}, was {before:,})"


def change_line(now: Tally, before: Tally) -> str:
    """How sent, clicked and failed moved against the previous period."""
    return " · ".join(
        (
            _change("sent", now.sent, before.sent),
            _change("clicked", now.clicked, before.clicked),
            _change("failed", now.failed, before.failed),
        )
    )


def failure_lines(report: DetailedReport) -> list[str]:
    """The commonest failure reasons, counted; the rest summed on a last line.

    A provider's reason may quote the customer's number or address: masked, as in any channel.
    """
    lines = [
        f"• {count:,} × {escape(redact(clip(reason, MAX_REASON))) if reason else '_no reason recorded_'}"
        for reason, count in report.failures
    ]
    rest = report.failed - sum(count for _, count in report.failures)
    if rest > 0:
        lines.append(f"• {rest:,} × other reasons")
    return lines


def _span(report: DetailedReport, timezone: str) -> str:
    zone = ZoneInfo(timezone)
    first = report.stats.start.astimezone(zone)
    if report.stats.end is None:
        return f"since {first:%Y-%m-%d %H:%M} ({escape(timezone)})"
    last = (report.stats.end - timedelta(microseconds=1)).astimezone(zone)
    return f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} ({escape(timezone)})"


def report_text(report: DetailedReport, *, heading: str, compared_with: str, timezone: str) -> str:
    """The whole report as mrkdwn: funnel per channel, change, failures, what waits."""
    stats = report.stats
    lines = [heading, f"*Funnel*: {funnel_line(stats.overall)}"]
    lines += [f"• *{channel_label(c)}*: {funnel_line(t)}" for c, t in stats.by_channel.items()]
    lines.append(
        f"*Against {compared_with}*: {change_line(stats.overall, report.previous.overall)}"
    )
    lines.append(f"*Failed*: {report.failed:,}")
    lines += failure_lines(report)
    lines.append(f"*Waiting to go out*: {report.waiting:,}")
    lines.append(f"_Requests created {_span(report, timezone)}, with what has happened since._")
    return clip("\n".join(lines), MAX_COMMENT)


def digest_text(
    report: DetailedReport, *, label: str, frequency: str, business: str, timezone: str
) -> str:
    """The digest message: every figure in words, the chart below it."""
    who = f" for {escape(business)}" if business else ""
    kind = "Daily" if frequency == "daily" else "Weekly"
    heading = f":bar_chart: *{kind} reviews digest{who}: {escape(label)}*"
    return report_text(
        report,
        heading=heading,
        compared_with=PREVIOUS.get(frequency, "the period before"),
        timezone=timezone,
    )


def digest_refused_text(*, label: str, frequency: str, channel: str, error: str) -> str:
    """The alert when Slack refused a digest: where, what Slack said, and what to do."""
    kind = "daily" if frequency == "daily" else "weekly"
    return (
        f":warning: The {kind} reviews digest ({escape(label)}) could not be posted in "
        f"<#{escape(channel)}>: Slack said `{escape(error)}`. Invite the app to that channel, "
        "or choose another digest channel in `/reviews settings`."
    )


def stats_chart_text(report: DetailedReport, *, label: str, timezone: str) -> str:
    """The comment of the chart `/reviews stats ... chart` sends."""
    heading = f":bar_chart: *Reviews chart: {escape(label)}*"
    return report_text(
        report, heading=heading, compared_with="the period before", timezone=timezone
    )
