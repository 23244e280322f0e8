"""Pure Block Kit builders for /reviews stats and the CSV export's progress messages."""

from __future__ import annotations

from decimal import Decimal

from slack_sdk.models.blocks import ContextBlock, SectionBlock

from bot.usecases.history import PeriodStats, Tally
from bot.usecases.periods import period_words, tally_words
from handlers.blocks.common import Reply, dicts, md
from handlers.text import channel_label, clip, escape, user_mention

MAX_SENDER_LINES = 15


def tally_line(label: str, t: Tally) -> str:
    """One line of numbers under a bold label (the words: bot/usecases/periods.py)."""
    return f"*{label}*: {tally_words(t)}"


def stats_reply(
    stats: PeriodStats,
    *,
    label: str,
    timezone: str,
    sms_price: Decimal,
    currency: str,
    waiting: int,
) -> Reply:
    """Build the stats answer: overall, per channel, per sender, SMS cost, what is waiting."""
    overall = tally_line(label, stats.overall)
    head = f"{overall}\nRequests created {period_words(stats, timezone)}."
    channels = [tally_line(channel_label(c), t) for c, t in stats.by_channel.items()]
    senders = [
        tally_line(user_mention(s.user_id, s.name), s.tally)
        for s in stats.by_sender[:MAX_SENDER_LINES]
    ]
    hidden = len(stats.by_sender) - len(senders)
    if hidden > 0:
        senders.append(f"…and {hidden:,} more senders.")
    cost = stats.sms_cost(sms_price)
    cost_line = (
        f"*SMS cost estimate*: {cost} {escape(currency)} "
        f"({stats.sms_segments:,} segments in {stats.sms_sent:,} SMS × {sms_price} {escape(currency)})"
    )
    sections = [
        head,
        "*By channel*\n" + ("\n".join(channels) or "Nothing yet."),
        "*By sender*\n" + ("\n".join(senders) or "Nothing yet."),
        f"{cost_line}\n*Waiting to go out*: {waiting:,}",
    ]
    blocks = [SectionBlock(text=md(s)) for s in sections]
    fallback = f"{overall} SMS cost estimate {cost} {currency}."
    return Reply(clip(fallback), dicts(blocks))


# --- export ------------------------------------------------------------------------------------


def export_started_reply(description: str) -> Reply:
    """Tell the person who asked where the file will arrive."""
    text = (
        f":hourglass_flowing_sand: Exporting {description} as CSV. "
        "I'll post the file in our direct message."
    )
    return Reply(clip(text), dicts([SectionBlock(text=md(text))]))


def export_progress(rows: int, total: int, description: str) -> Reply:
    """The DM message updated while an export runs."""
    done = f"{rows:,} of {total:,}" if total >= rows else f"{rows:,}"
    text = f":hourglass_flowing_sand: Exporting {description}: {done} requests written so far."
    return Reply(clip(text), dicts([SectionBlock(text=md(text))]))


def export_done(rows: int, description: str, timezone: str) -> Reply:
    """The DM message once the file is posted."""
    text = f":white_check_mark: Exported {rows:,} requests ({description}). The CSV file is below."
    note = f"Times are in {escape(timezone)}."
    return Reply(
        clip(text),
        dicts([SectionBlock(text=md(text)), ContextBlock(elements=[md(note)])]),
    )


def export_failed(rows: int, description: str) -> Reply:
    """The DM message when the export could not be finished."""
    text = (
        f":warning: The export of {description} stopped after {rows:,} requests and no file "
        "was posted. It was logged; please try again in a moment."
    )
    return Reply(clip(text), dicts([SectionBlock(text=md(text))]))
