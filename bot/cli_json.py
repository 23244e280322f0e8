"""The CLI's `--json` output: stable keys, numbers as numbers, times as ISO 8601 in UTC.

Shapes (a key is never renamed; new keys may be added):
- `list`: {"requests": [request...], "next_cursor": str|null}
- `show`: {"request": request, "messages": [message...], "events": [event...]}
- `stats`: see `stats_json`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import typer

from bot.usecases.history import Event, Message, PeriodStats, ReviewRequest, Tally
from bot.usecases.inputs import RequestDetail
from bot.usecases.periods import StatsPeriod


def emit(value: Any) -> None:
    """Print one JSON document on standard output."""
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def iso(value: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC ("2026-12-01T09:00:00+00:00"), or null."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def request_json(r: ReviewRequest) -> dict[str, Any]:
    """One request as `list --json` and `show --json` write it."""
    return {
        "number": r.number,
        "customer_name": r.customer_name,
        "phone": r.phone,
        "email": r.email,
        "reference": r.reference,
        "review_type": r.review_type,
        "language": r.language,
        "method": r.method,
        "channel": r.channel,
        "status": r.status,
        "retries": r.retries,
        "last_error": r.last_error,
        "created_by": r.created_by,
        "created_by_name": r.created_by_name,
        "origin": r.origin,
        "created_at": iso(r.created_at),
        "scheduled_at": iso(r.scheduled_at),
        "sent_at": iso(r.sent_at),
        "delivered_at": iso(r.delivered_at),
        "opened_at": iso(r.opened_at),
        "clicked_at": iso(r.clicked_at),
        "deleted_at": iso(r.deleted_at),
    }


def _message_json(m: Message, d: RequestDetail) -> dict[str, Any]:
    paced = d.paced.get(m.id or 0)
    quiet = d.quiet.get(m.id or 0)
    window = d.window.get(m.id or 0)
    return {
        "kind": m.kind,
        "channel": m.channel,
        "to": m.to_address,
        "status": m.status,
        "due_at": iso(m.due_at),
        "sent_at": iso(m.sent_at),
        "delivered_at": iso(m.delivered_at),
        "read_at": iso(m.read_at),
        "opened_at": iso(m.opened_at),
        "clicked_at": iso(m.clicked_at),
        "failed_at": iso(m.failed_at),
        "error_code": m.error_code,
        "error_reason": m.error_reason,
        # What holds a waiting message back, when something does.
        "paced_until": iso(paced.expected_at) if paced else None,
        "quiet_hours_wait": quiet.sentence() if quiet else None,
        "window_wait": window.sentence() if window else None,
    }


def _event_json(e: Event) -> dict[str, Any]:
    return {"at": iso(e.at), "kind": e.kind, "actor": e.actor, "detail": e.detail}


def detail_json(d: RequestDetail) -> dict[str, Any]:
    """A request with its messages and events, as `show --json` writes it."""
    return {
        "request": request_json(d.request),
        "messages": [_message_json(m, d) for m in d.messages],
        "events": [_event_json(e) for e in d.events],
    }


def _tally(t: Tally) -> dict[str, Any]:
    return {
        "sent": t.sent,
        "delivered": t.delivered,
        "opened": t.opened,
        "clicked": t.clicked,
        "failed": t.failed,
        "click_rate": round(t.click_rate, 4),
    }


def _money(value: Decimal) -> float:
    return float(value)


def stats_json(
    stats: PeriodStats,
    period: StatsPeriod,
    *,
    timezone: str,
    sms_price: Decimal,
    currency: str,
    waiting: int,
) -> dict[str, Any]:
    """A period's numbers as `stats --json` writes them (the content of `/reviews stats`)."""
    return {
        "period": {
            "label": period.label,
            "start": iso(stats.start),
            "end": iso(stats.end),  # exclusive; null: up to now
            "timezone": timezone,
        },
        "overall": _tally(stats.overall),
        "by_channel": {channel: _tally(t) for channel, t in stats.by_channel.items()},
        "by_sender": [
            {"user_id": s.user_id, "name": s.name, **_tally(s.tally)} for s in stats.by_sender
        ],
        "sms": {
            "sent": stats.sms_sent,
            "segments": stats.sms_segments,
            "price_per_segment": _money(sms_price),
            "currency": currency,
            "cost_estimate": _money(stats.sms_cost(sms_price)),
        },
        "waiting": waiting,
    }
