"""`/reviews stats [7d|30d|from:YYYY-MM-DD to:YYYY-MM-DD]`: how the outreach went."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.domain.errors import InvalidInput
from bot.usecases import history
from handlers.blocks.report import stats_reply
from handlers.invocation import Invocation
from handlers.parsing import parse_day

DEFAULT_DAYS = 7
MAX_DAYS = 3660
_DAYS = re.compile(r"^(?P<n>\d{1,4})d$", re.I)
USAGE = "Write `/reviews stats`, `/reviews stats 30d` or `/reviews stats from:2026-11-01 to:2026-11-30`."


@dataclass(frozen=True)
class StatsPeriod:
    start: datetime  # UTC
    end: datetime | None  # UTC, exclusive; None: up to now
    label: str


def parse_stats_period(text: str, *, now: datetime, timezone: str) -> StatsPeriod:
    """Read `7d`, `30d` (any number of days up to ten years) or `from:DAY [to:DAY]`.

    Days are in the workspace timezone and `to:` includes its whole day; without `to:` the
    period runs until now.

    :raise InvalidInput: anything else, or a `to:` before `from:`.
    """
    words = (text or "").split()
    if not words:
        return StatsPeriod(now - timedelta(days=DEFAULT_DAYS), None, f"Last {DEFAULT_DAYS} days")
    days = _DAYS.match(words[0])
    if days and len(words) == 1:
        n = int(days["n"])
        if not 1 <= n <= MAX_DAYS:
            raise InvalidInput(f"Give between 1 and {MAX_DAYS} days, like 7d or 30d.")
        return StatsPeriod(now - timedelta(days=n), None, f"Last {n} days")
    given: dict[str, date] = {}
    for word in words:
        key, sep, value = word.partition(":")
        key = key.lower()
        if not sep or key not in ("from", "to"):
            raise InvalidInput(f"I don't understand '{word}'. {USAGE}")
        if key in given:
            raise InvalidInput(f"'{key}:' is given twice. {USAGE}")
        given[key] = parse_day(value, key)
    if "from" not in given:
        raise InvalidInput(f"Say where the period starts with from:. {USAGE}")
    start = history.start_of_day(given["from"], timezone)
    end = None
    if "to" in given:
        end = history.end_of_day(given["to"], timezone)
        if end <= start:
            raise InvalidInput("to: must not come before from:.", field="to")
    if start > now:
        raise InvalidInput("from: is in the future: nothing has happened yet.", field="from")
    if end is None:
        return StatsPeriod(start, None, f"Since {given['from']}")
    return StatsPeriod(start, end, f"{given['from']} to {given['to']}")


def run_command(inv: Invocation) -> None:
    """Answer with the period's numbers, per channel and per sender, and the SMS cost.

    :raise InvalidInput: the period is wrong (answered by the command's dispatcher).
    """
    app = inv.surface.app
    policy = inv.surface.ops.policy(inv.workspace_id)
    period = parse_stats_period(inv.args, now=app.clock.now(), timezone=policy.timezone)
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
