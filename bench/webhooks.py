"""Twilio status callbacks into `reviewops serve`, and the lag to the Slack thread reply.

Set-up: `reviewops serve` against the fake Slack and Twilio; K requests sent through the CLI
(each gets a card in the channel), then M queued requests made due and sent by the server
(helped by one `reviewops worker`, stopped before measuring), so every message exists in
the database with its Twilio SID.

1. Thread lag (issue 11, item 4): one `delivered` callback at a time for the K carded
   requests; the time from posting the callback to the fake Slack receiving the reply in
   the request's thread, p50/p95 (the outbox is idle between samples).
2. Callbacks (item 3): a `delivered` callback for each of the M messages, signed with
   twilio's RequestValidator as Twilio signs them, at 20 concurrent clients: accepted/s,
   p50/p95/p99/max. The route only stores them (the webhook inbox) and the server applies
   them after answering: how many the database shows applied when the burst ends, and how
   long until all are (waited for up to 2 min). Baseline in the same run: as many
   GET /healthz at the same concurrency.
3. The Slack outbox while a SQLite worker sends (the issue's "42 cards for 268 SMS"): N
   requests made due for one `reviewops worker`; over 15 s from its first SMS, SMS sent,
   chat.postMessage calls (cards and thread replies) and chat.update calls in the fake
   Slack, and the outbox rows still pending. Baseline: the outbox's pace, one post per
   second per channel (every card goes to one channel), i.e. 15 posts in 15 s.

    .venv/bin/python -m bench.webhooks --quick
    .venv/bin/python -m bench.webhooks --messages 3000 --lag-samples 30
    .venv/bin/python -m bench.webhooks --quick --only outbox
"""

from __future__ import annotations

import argparse
import re
import time
import uuid
from typing import Any

from bench import speedkit as kit

LAG_PHONE = "0630000{:03d}"  # national format; +33630000kkk once normalised
CLONE_FIRST = 3_000_000  # the copies' phones: +33603000000 onwards
CLONE_PREFIX = "+33603"


def text_of(node: Any) -> str:
    """Every text in a Slack message (fallback text and blocks), joined."""
    parts: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("text"), str):
                parts.append(item["text"])
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(parts)


def callback(
    stack: kit.Stack, resource: dict[str, Any], status: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    """(url, form, headers) of a status callback, as Twilio builds and signs it."""
    url = f"{stack.base}/webhooks/twilio/status"
    params = {
        "MessageSid": resource["sid"],
        "SmsSid": resource["sid"],
        "AccountSid": kit.TWILIO_SID,
        "From": resource.get("from") or "",
        "To": resource["to"],
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
    }
    headers = {
        "X-Twilio-Signature": kit.twilio_signature(url, params),
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "User-Agent": "TwilioProxy/1.1",
    }
    return url, params, headers


def quiet_slack(stack: kit.Stack, seconds: float = 3.0, timeout: float = 120.0) -> bool:
    """Wait until the fake Slack received nothing new for `seconds`."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(stack.slack.call("calls"))
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return True
        time.sleep(0.3)
    return False


def thread_lag(stack: kit.Stack, samples: int) -> tuple[list[float], list[float], list[str]]:
    notes: list[str] = []
    resources = {r["to"]: r for r in stack.twilio.call("accepted")}
    cards = {}
    for message in stack.slack.call("messages", kit.CHANNEL):
        for k in range(samples):
            if re.search(rf"\bLag {k}\b", text_of(message)):
                cards.setdefault(k, message["ts"])
    lags: list[float] = []
    acks: list[float] = []
    import requests

    session = requests.Session()
    for k in range(samples):
        resource = resources.get(f"+33630000{k:03d}")
        ts = cards.get(k)
        if resource is None or ts is None:
            notes.append(f"lag sample {k}: no {'message' if resource is None else 'card'}")
            continue
        before = len(stack.slack.call("thread", kit.CHANNEL, ts))
        url, params, headers = callback(stack, resource, "delivered")
        started = time.perf_counter()
        answer = session.post(url, data=params, headers=headers, timeout=30)
        acks.append(time.perf_counter() - started)
        if answer.status_code != 200:
            notes.append(f"lag sample {k}: callback answered {answer.status_code}")
            continue
        seen = kit.wait_until(
            lambda ts=ts, before=before: len(stack.slack.call("thread", kit.CHANNEL, ts)) > before,
            30,
            step=0.02,
        )
        if not seen:
            notes.append(f"lag sample {k}: no thread reply within 30 s")
            continue
        lags.append(time.perf_counter() - started)
        time.sleep(1.1)  # the outbox paces a channel at about one post per second
    return lags, acks, notes


def outbox_pace(backlog: int, window: float = 15.0) -> list[str]:
    """Section 3: what the Slack outbox posts while one SQLite worker sends a backlog."""
    stack = kit.Stack("sqlite", "webhooks-outbox")
    notes: list[str] = []
    try:
        stack.worker()
        before = len(stack.slack.call("calls"))
        stack.clone(backlog, first_phone=CLONE_FIRST)
        # The worker finds the clones at its next dispatch pass: count from its first SMS.
        if not kit.wait_until(lambda: stack.sent_count() > 1, 60, step=0.05):
            return ["outbox: the worker sent nothing within 60 s"]
        first_sms = stack.sent_count()
        started = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - started
        sms = stack.sent_count() - first_sms
        calls = stack.slack.call("calls")[before:]
        posts = [c for c in calls if c[0] == "chat.postMessage"]
        cards = [c for c in posts if "thread_ts" not in c[1]]
        updates = sum(c[0] == "chat.update" for c in calls)
        pending = kit.scalar(
            stack.url, "SELECT count(*) FROM slack_outbox WHERE status = 'pending'"
        )
        print(f"\n## Slack outbox while one SQLite worker sends ({backlog} due, {elapsed:.0f} s)")
        print(f"baseline: the outbox's pace, 1 post/s in one channel: {elapsed:.0f} posts")
        print(
            f"product: {sms} SMS sent; {len(posts)} chat.postMessage ({len(cards)} cards,"
            f" {len(posts) - len(cards)} thread replies) = {len(posts) / elapsed:.2f} posts/s"
            f" ({len(posts) / elapsed:.2f} x baseline); {updates} chat.update;"
            f" {pending} outbox rows pending"
        )
    finally:
        notes += stack.close()
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--messages", type=int, help="callbacks fired (full: 3000)")
    parser.add_argument("--lag-samples", type=int, help="thread lag samples (full: 30)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--backlog", type=int, help="outbox section's due requests (full: 1000)")
    parser.add_argument("--only", choices=("callbacks", "outbox"), help="run one part")
    args = parser.parse_args()
    m = args.messages or (200 if args.quick else 3000)
    k = args.lag_samples or (6 if args.quick else 30)
    print(kit.machine(kit.PG_ADMIN_URL if args.db == "postgresql" else None))
    print(
        f"mode: {'quick' if args.quick else 'full'}; {args.db}; {m} callbacks at {args.concurrency}; {k} lag samples"
    )
    notes: list[str] = []
    if args.only != "outbox":
        notes += callbacks(args.db, m, k, args.concurrency)
    if args.only != "callbacks":
        notes += outbox_pace(args.backlog or (300 if args.quick else 1000))
    for note in notes:
        print(note)


def callbacks(db: str, m: int, k: int, concurrency: int) -> list[str]:
    """Sections 1 and 2: thread lag, then a burst of status callbacks beside /healthz."""
    stack = kit.Stack(db, "webhooks")
    notes: list[str] = []
    try:
        kit.log(f"webhooks: {k} requests sent through the CLI")
        for i in range(k):
            stack.cli("send", f"Lag {i}", "--phone", LAG_PHONE.format(i))
        stack.serve()
        if not quiet_slack(stack):
            notes.append("the fake Slack never went quiet before the lag samples")
        kit.log("webhooks: thread lag")
        lags, lag_acks, lag_notes = thread_lag(stack, k)
        notes += lag_notes
        print("\n## status callback -> reply in the request's Slack thread (one at a time)")
        print(kit.latency_row("thread reply seen by fake Slack", lags))
        print(kit.latency_row("  of which the callback's answer", lag_acks))

        kit.log(f"webhooks: {m} messages to send")
        helper = stack.worker()
        stack.clone(m, first_phone=CLONE_FIRST)
        if not kit.wait_until(lambda: stack.sent_count() >= m + k, 60 + m, step=0.5):
            notes.append(f"only {stack.sent_count() - k} of {m} messages were sent in time")
        helper.stop()
        resources = [r for r in stack.twilio.call("accepted") if r["to"].startswith(CLONE_PREFIX)]
        signed = [callback(stack, r, "delivered") for r in resources]
        total = len(signed)

        def status(session: Any, i: int) -> Any:
            url, params, headers = signed[i]
            return session.post(url, data=params, headers=headers, timeout=30)

        def healthz(session: Any, i: int) -> Any:
            return session.get(f"{stack.base}/healthz", timeout=30)

        print(f"\n## {total} status callbacks, {concurrency} concurrent clients")
        kit.log("webhooks: baseline /healthz")
        base_lat, base_st, base_wall = kit.fire(healthz, total, concurrency)
        kit.log("webhooks: status callbacks")
        lat, st, wall = kit.fire(status, total, concurrency)
        burst_ended = time.monotonic()

        def applied_now() -> int:
            return int(
                kit.scalar(
                    stack.url,
                    "SELECT count(*) FROM message WHERE status = 'delivered'"
                    " AND to_address LIKE :p",
                    p=CLONE_PREFIX + "%",
                )
            )

        applied = applied_now()
        all_applied = kit.wait_until(lambda: applied_now() >= total, 120, step=0.2)
        drained = time.monotonic() - burst_ended
        print(
            kit.latency_row("baseline: GET /healthz", base_lat)
            + f"  {total / base_wall:.0f} req/s  HTTP {dict(base_st)}"
        )
        print(
            kit.latency_row("Twilio status callback", lat)
            + f"  {total / wall:.0f} accepted/s ({total / wall / (total / base_wall):.2f} x"
            f" baseline)  HTTP {dict(st)}"
        )
        print(f"applied (status delivered) when the burst ended: {applied} of {total}")
        if all_applied:
            print(f"all {total} applied {drained:.1f} s after the burst ended")
        else:
            notes.append(f"only {applied_now()} of {total} callbacks applied 2 min after")
        print(f"load average now {kit.loadavg()}")
    finally:
        notes += stack.close()
    return notes


if __name__ == "__main__":
    main()
