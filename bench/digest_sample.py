"""Draw the digest chart of a sample workspace to docs/digest-sample.png, to look at.

    python -m bench.digest_sample [OUTPUT.png]

Two weeks of requests on three channels (a fixed random seed: the same file each time on one
machine) go into a fresh SQLite database; the weekly digest due Monday 23 November 2026 at
09:00 in Paris is read through the read path and drawn as the digest job draws it. Its text
is printed too. `tests/test_digest.py` draws from the same rows.
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.charts import chart_alt_text, render_chart
from bot.domain.digest import due_period, series_buckets, series_start
from bot.usecases.history import detailed_report
from store import db as store_db
from store.db import Database
from store.models import ReviewRequest, Workspace

NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # Monday 09:30 in Paris
TIMEZONE = "Europe/Paris"
REASONS = {
    "sms": ["21211 The 'To' number is not a valid phone number.", "30003 Unreachable handset"],
    "whatsapp": ["63016 Outside the 24-hour window"],
    "email": ["550 5.1.1 Mailbox does not exist"],
}
# Requests a day per channel, and the chance of each step given the one before.
VOLUME = {"sms": (6, 14), "whatsapp": (2, 6), "email": (4, 10)}
STEPS = {
    "sms": (0.96, 0.93, 0.0, 0.30),
    "whatsapp": (0.97, 0.95, 0.80, 0.40),
    "email": (0.98, 0.95, 0.55, 0.35),
}


def _outcome(rng: random.Random, channel: str, at: datetime) -> dict[str, Any]:
    sent, delivered, opened, clicked = STEPS[channel]
    later = at + timedelta(minutes=rng.randint(1, 90))
    if rng.random() > sent:
        return {"status": "failed", "last_error": rng.choice(REASONS[channel])}
    row: dict[str, Any] = {"status": "sent", "sent_at": later}
    if rng.random() > delivered:
        return {**row, "status": "undelivered", "last_error": rng.choice(REASONS[channel])}
    row.update(status="delivered", delivered_at=later)
    if opened and rng.random() < opened:
        row.update(status="opened", opened_at=later)
    if rng.random() < clicked:
        row.update(status="clicked", clicked_at=later)
    return row


def sample_rows(workspace_id: int, *, end: datetime, days: int = 14) -> list[dict[str, Any]]:
    """Requests created in the `days` before `end`, their outcomes drawn from a fixed seed."""
    rng = random.Random(15)  # noqa: S311 (sample data, not a secret)
    rows: list[dict[str, Any]] = []
    for day in range(days, 0, -1):
        for channel, (low, high) in VOLUME.items():
            for _ in range(rng.randint(low, high)):
                at = end - timedelta(days=day - 1, minutes=rng.randint(1, 24 * 60))
                number = len(rows) + 1
                rows.append(
                    {
                        "workspace_id": workspace_id,
                        "number": number,
                        "customer_name": f"Customer {number}",
                        "phone": None if channel == "email" else f"+3361{number:07d}",
                        "email": f"c{number}@example.com" if channel == "email" else None,
                        "language": "en",
                        "method": channel,
                        "channel": channel,
                        "review_type": "service",
                        "created_by": "U0ALICE",
                        "created_by_name": "alice",
                        "created_at": at,
                        "updated_at": at,
                        "retries": 0,
                        **_outcome(rng, channel, at),
                    }
                )
    return rows


def seed_sample(db: Database, workspace_id: int, *, end: datetime) -> int:
    """Insert the sample requests; return how many."""
    rows = sample_rows(workspace_id, end=end)
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(sorted(row)), []).append(row)
    with db.write() as session:
        for same in by_keys.values():
            session.execute(insert(ReviewRequest), same)
    return len(rows)


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/digest-sample.png")
    with tempfile.TemporaryDirectory(prefix="reviewops-sample-") as folder:
        url = f"sqlite:///{folder}/sample.db"
        store_db.upgrade(url)
        db = Database(url)
        with db.write() as session:
            session.add(Workspace(team_id="T0SAMPLE", name="Sample", policy={}, created_at=NOW))
        period = due_period(NOW, frequency="weekly", at="09:00", timezone=TIMEZONE)
        assert period is not None
        seed_sample(db, 1, end=period.end)
        buckets = series_buckets(series_start(period, TIMEZONE), period.end, timezone=TIMEZONE)
        report = detailed_report(
            db,
            1,
            start=period.start,
            end=period.end,
            previous_start=period.previous_start,
            buckets=[(b.start, b.end) for b in buckets],
        )
        db.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(render_chart(report, title=f"Reviews: {period.label}", timezone=TIMEZONE))
    print(f"wrote {out}")
    print(chart_alt_text(report, timezone=TIMEZONE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
