"""Slack acknowledgement times of `reviewops serve` while a backlog is being sent.

`reviewops serve` (gunicorn) runs against the fake Slack and the fake Twilio; the workspace
gets a request card (its first button is what the benchmark presses), then a backlog of
queued requests is made due and, while the server's scheduler sends it, signed requests are
fired exactly as Slack sends them: `/reviews list`, `/reviews help` and a button click on
the card, at 10 and 50 concurrent clients. Reported: the HTTP answer time (Slack needs it
within 3 s) p50/p95/p99/max, and how long after its request each answer posted to its
response_url reached the fake Slack (what the person waits for; wall clocks of one machine). Baseline in the same run, same server, same concurrency:
GET /healthz (a database round trip, no Slack work). The summary checks issue 11's targets:
each ack's p99 at most 2x the /healthz p99 of the same run, and under 100 ms (that one only
means something on a quiet machine). `serve` runs its scheduler in a process of its own and
WEB_CONCURRENCY web workers (default: the cores but one); `--web-concurrency` sets it.
The fake Slack answers at once unless `--slack-latency` gives it Slack's own delay (each API
call and response_url post waits that long on its own thread), which is where an answer's
time goes in production.

    .venv/bin/python -m bench.slack_ack --quick
    .venv/bin/python -m bench.slack_ack --backlog 5000 --requests 1000
"""

from __future__ import annotations

import argparse
import time
from typing import Any
from urllib.parse import urlencode

from bench import speedkit as kit


def card_button(
    stack: kit.Stack, timeout: float = 30.0
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Wait for the first request card in CHANNEL and return (button, block_id, message)."""
    found: list[Any] = []

    def ready() -> bool:
        for message in stack.slack.call("messages", kit.CHANNEL):
            button = kit.first_button(message)
            if button:
                found.append((*button, {**message, "channel": kit.CHANNEL}))
                return True
        return False

    if not kit.wait_until(ready, timeout, step=0.3):
        raise RuntimeError("no request card with a button reached the fake Slack")
    return found[0]


def print_summary(rows: list[tuple[int, str, float, float]]) -> None:
    """Issue 11's targets: ack p99 <= 2x the /healthz p99 of the same run, and < 100 ms."""
    print("\n## targets: ack p99 <= 2x /healthz p99 (same run); < 100 ms on a quiet machine")
    for level, label, p99, base in rows:
        ratio = p99 / base
        print(
            f"{level:>3} clients  {label:<22} p99 {p99 * 1000:8.1f} ms  /healthz p99 "
            f"{base * 1000:8.1f} ms  x{ratio:4.1f} {'ok' if ratio <= 2 else 'OVER'}  "
            f"{'< 100 ms' if p99 < 0.1 else '>= 100 ms'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument(
        "--backlog",
        type=int,
        help="queued requests made due (full: 3000); 0: none, a quiet machine",
    )
    parser.add_argument("--requests", type=int, help="requests per target and concurrency")
    parser.add_argument("--concurrency", default="10,50")
    parser.add_argument("--workers", type=int, default=0, help="extra `reviewops worker`s")
    parser.add_argument("--web-concurrency", type=int, help="serve's web workers (WEB_CONCURRENCY)")
    parser.add_argument(
        "--admin", action="store_true", help="the Slack user is a workspace admin (default not)"
    )
    parser.add_argument(
        "--slack-latency",
        type=float,
        default=0.0,
        help="seconds the fake Slack takes to answer each call and response_url post "
        "(Slack's own are about 0.1 to 0.3); default 0",
    )
    args = parser.parse_args()
    backlog = args.backlog if args.backlog is not None else (1000 if args.quick else 3000)
    per_target = args.requests or (100 if args.quick else 1000)
    levels = [int(c) for c in args.concurrency.split(",")]
    print(kit.machine(kit.PG_ADMIN_URL if args.db == "postgresql" else None))
    print(
        f"mode: {'quick' if args.quick else 'full'}; {args.db}; backlog {backlog}; "
        f"{per_target} requests per target and concurrency; serve + {args.workers} worker(s); "
        f"user {'an admin' if args.admin else 'not an admin'}; "
        f"fake Slack answers after {args.slack_latency * 1000:.0f} ms"
    )
    stack = kit.Stack(args.db, "slack_ack", admin=args.admin)
    notes: list[str] = []
    try:
        kit.log("slack_ack: a request with a card")
        stack.cli("send", "Card Holder", "--phone", "0620000001", "--in", "30d", "--queue-only")
        if args.web_concurrency:
            stack.env["WEB_CONCURRENCY"] = str(args.web_concurrency)
        stack.slack.call("set_latency", args.slack_latency)
        server = stack.serve()
        print(f"serve: {len(server.pids())} processes (gunicorn arbiter, web workers, scheduler)")
        for _ in range(args.workers):
            stack.worker()
        button, block_id, card = card_button(stack)
        print(f"button pressed: '{button.get('text', {}).get('text', '?')}' on the request card")
        if backlog:
            kit.log(f"slack_ack: backlog of {backlog}")
            stack.clone(backlog, first_phone=1_000_000)
            if not kit.wait_until(lambda: stack.sent_count() > 0, 60):
                notes.append("the backlog had not started going out after 60 s")
        events = f"{stack.base}/slack/events"

        def healthz(session: Any, i: int) -> Any:
            return session.get(f"{stack.base}/healthz", timeout=30)

        started: dict[str, float] = {}  # response_url -> when its request left (wall clock)

        def prepared(bodies: list[str], urls: list[str]) -> Any:
            signed = [(b, kit.slack_headers(b)) for b in bodies]

            def send(session: Any, i: int) -> Any:
                body, headers = signed[i]
                started[urls[i]] = time.time()
                return session.post(events, data=body.encode(), headers=headers, timeout=30)

            return send

        def answer_times(urls: set[str]) -> str:
            """How long after its request each answer reached its response_url."""
            posted = stack.slack.call("response_url_first_posts")
            lags = [posted[u] - started[u] for u in urls if u in posted]
            if not lags:
                return "-"
            return (
                f"p50 {kit.pct(lags, 50) * 1000:.0f} p95 {kit.pct(lags, 95) * 1000:.0f} "
                f"max {max(lags) * 1000:.0f} ms"
            )

        def slash(text: str) -> Any:
            urls = stack.slack.call("new_response_url", repeat=per_target)
            triggers = stack.slack.call("issue_trigger_id", repeat=per_target)
            return prepared(
                [
                    urlencode(kit.slash_form(text, u, t))
                    for u, t in zip(urls, triggers, strict=True)
                ],
                urls,
            )

        def click() -> Any:
            urls = stack.slack.call("new_response_url", repeat=per_target)
            triggers = stack.slack.call("issue_trigger_id", repeat=per_target)
            return prepared(
                [
                    urlencode({"payload": kit.button_payload(button, block_id, card, u, t)})
                    for u, t in zip(urls, triggers, strict=True)
                ],
                urls,
            )

        summary: list[tuple[int, str, float, float]] = []
        seen: set[str] = set()
        for level in levels:
            print(f"\n## {level} concurrent clients")
            targets = [
                ("baseline: GET /healthz", lambda: healthz),
                ("/reviews list", lambda: slash("list")),
                ("/reviews help", lambda: slash("help")),
                ("button click (card)", click),
            ]
            baseline_p95 = baseline_p99 = None
            for label, make in targets:
                send = make()
                before = stack.sent_count()
                answered = stack.slack_answers()
                errors = server.error_lines()
                kit.log(f"slack_ack: {label} x{per_target} at {level}")
                latencies, statuses, wall = kit.fire(send, per_target, level)
                sent = stack.sent_count() - before
                answers = lag = "-"
                mine = set(started) - seen
                seen.update(mine)
                if label.startswith(("/", "button")):
                    kit.wait_until(
                        lambda a=answered: stack.slack_answers() - a >= per_target, 15, step=0.5
                    )
                    answers = f"{stack.slack_answers() - answered}/{per_target}"
                    lag = answer_times(mine)
                p95, p99 = kit.pct(latencies, 95), kit.pct(latencies, 99)
                if baseline_p95 is None or baseline_p99 is None:
                    baseline_p95, baseline_p99 = p95, p99
                else:
                    summary.append((level, label, p99, baseline_p99))
                print(
                    kit.latency_row(label, latencies)
                    + f"  p95 x{p95 / baseline_p95:.1f} p99 x{p99 / baseline_p99:.1f} baseline"
                    + f"  {per_target / wall:.0f} req/s  HTTP {dict(statuses)}"
                    + f"  answers seen {answers} (response_url posts {lag})  backlog sent meanwhile: {sent}"
                    + f"  serve ERROR log lines: {server.error_lines() - errors}"
                )
        print_summary(summary)
        left = backlog + 1 - stack.sent_count()
        print(f"\nbacklog still to send at the end: {max(left, 0)} of {backlog}")
        print(f"load average now {kit.loadavg()}")
        if server.proc.poll() is not None:
            notes.append("serve exited during the run")
    finally:
        notes += stack.close()
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
