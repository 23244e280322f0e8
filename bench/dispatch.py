"""Dispatch throughput: N queued requests sent by real `reviewops worker` processes.

For each mode (database, number of workers, fake Twilio latency): a fresh database, the
workspace set to send_window=always through the CLI, a template request made by
`reviewops send --queue-only` and cloned N times (due now), then the workers are started
(DISPATCH_CONCURRENCY passed through, `--concurrency`), left idle, and the clones are made
due. Measured, on the fake Twilio's side: messages/s from the first to the last message
received, and that each To and each body came once; on the workers' side: CPU ms per
message (/proc/<pid>/stat of the worker processes, idle start-up excluded). Baselines in
the same run, against the same stand-in (same URL redirect as the product): the twilio SDK
alone, `Client(...).messages.create` in a sequential loop, and, with latency, the same loop
on as many threads as a worker has sends in flight (the fair comparison for concurrency).
"fake ms/msg" is the stand-in's own CPU per message (it validates every request against
Twilio's OpenAPI description), the same work on both sides; it bounds the baseline.
Then a stop check: SIGTERM to a worker that still has a backlog due (10,000 in the full
run); how long it takes to exit (SIGKILL after 35 s), how many messages it sends meanwhile,
and that none was sent twice.

    .venv/bin/python -m bench.dispatch --quick      # 150 / 300 messages, 1 and 4 workers
    .venv/bin/python -m bench.dispatch              # full: 2,000 / 2,000 messages, 1, 2, 4
"""

from __future__ import annotations

import argparse
import re
import resource
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench import speedkit as kit
from bot.settings import Settings

# One PostgreSQL database per checkout, so two people benchmarking at once do not collide.
PG_NAME = "dispatch_" + re.sub(r"[^a-z0-9]+", "_", kit.ROOT.name.lower())
CONCURRENCY: int = Settings.model_fields["dispatch_concurrency"].default  # the product's default
# Options of every fake Twilio of the run (`--lean-fake`).
FAKE_OPTIONS: dict[str, Any] = {}


@dataclass
class Result:
    label: str
    sent: int
    expected: int
    seconds: float
    rate: float
    cpu_ms: float
    fake_ms: float = float("nan")
    notes: list[str] = field(default_factory=list)


def run_product(kind: str, workers: int, latency: float, n: int, concurrency: int) -> Result:
    label = f"product {kind} x{workers} worker{'s' if workers > 1 else ''}"
    wd = kit.workdir("dispatch")
    url = kit.fresh_database(kind, PG_NAME, wd)
    with kit.Fake("twilio", latency=latency, **FAKE_OPTIONS) as fake:
        env = kit.worker_env(url, fake.url, concurrency)
        kit.seed_template(env, wd, "Bench")
        procs = [kit.Product(["worker"], env, wd, f"worker{i}") for i in range(workers)]
        notes: list[str] = []
        try:
            for p in procs:
                p.wait_output("worker running")
            time.sleep(2)  # let start-up work (first dispatch pass, outbox) settle
            cpu0 = sum(p.cpu_seconds() for p in procs)
            fake0 = fake.cpu_seconds()
            kit.clone_queued(url, 1, n)
            made_due = time.monotonic()
            first = last = None
            count = 0
            progress_at = made_due
            while count < n:
                time.sleep(0.2)
                now = time.monotonic()
                seen = len(fake.call("messages"))
                if seen and first is None:
                    first = now
                if seen > count:
                    count, last, progress_at = seen, now, now
                if now - progress_at > 60:
                    notes.append(f"STALLED: no message for 60 s at {count}/{n}")
                    break
                if any(p.proc.poll() is not None for p in procs):
                    notes.append("a worker exited during the run")
                    break
            cpu1 = sum(p.cpu_seconds() for p in procs)
            fake1 = fake.cpu_seconds()
            time.sleep(1)  # anything sent twice shortly after the last one?
        finally:
            for p in procs:
                p.stop()
        notes += [p.stop_note() for p in procs if p.killed or (p.stop_seconds or 0) > 5]
        notes += [f"{p.name}: {e} ERROR log lines" for p in procs if (e := p.error_lines())]
        messages = fake.call("messages")
        errors = fake.call("validation_errors")
    to = Counter(m.get("To") for m in messages)
    bodies = Counter(m.get("Body") for m in messages)
    dup_to = sum(c - 1 for c in to.values() if c > 1)
    dup_body = sum(c - 1 for c in bodies.values() if c > 1)
    if dup_to or dup_body:
        notes.append(f"DUPLICATES: {dup_to} repeated To, {dup_body} repeated bodies")
    if errors:
        notes.append(f"fake Twilio refused {len(errors)} malformed requests: {errors[0][:120]}")
    statuses = dict(kit.rows(url, "SELECT status, count(*) FROM message GROUP BY status"))
    notes.append(f"database after: {statuses}")
    if first is None or last is None:
        return Result(label, len(messages), n, float("nan"), 0.0, float("nan"), notes)
    span = max(last - first, 1e-3)
    rate = (count - 1) / span if count > 1 else 0.0
    notes.append(f"first message {first - made_due:.1f} s after the clones were made due")
    per = 1000 / max(count, 1)
    return Result(
        label, len(messages), n, span, rate, (cpu1 - cpu0) * per, (fake1 - fake0) * per, notes
    )


def stop_check(kind: str, backlog: int, concurrency: int, grace: float = 35.0) -> str:
    """SIGTERM a worker that still has due messages: how long until it exits, what it sends."""
    wd = kit.workdir("dispatch-stop")
    url = kit.fresh_database(kind, PG_NAME, wd)
    with kit.Fake("twilio", latency=0.2, **FAKE_OPTIONS) as fake:
        env = kit.worker_env(url, fake.url, concurrency)
        kit.seed_template(env, wd, "Bench")
        worker = kit.Product(["worker"], env, wd, "worker")
        try:
            worker.wait_output("worker running")
            kit.clone_queued(url, 1, backlog)
            kit.wait_until(lambda: len(fake.call("messages")) >= 5, 60)
            at_signal = len(fake.call("messages"))
        finally:
            worker.stop(grace)
        messages = fake.call("messages")
    after = len(messages) - at_signal
    twice = sum(c - 1 for c in Counter(m.get("To") for m in messages).values() if c > 1)
    statuses = dict(kit.rows(url, "SELECT status, count(*) FROM message GROUP BY status"))
    verdict = (
        "OK" if not worker.killed and (worker.stop_seconds or 99) < 25 and not twice else "MISSED"
    )
    return (
        f"{worker.stop_note()} (target < 25 s: {verdict}); {after} messages sent after SIGTERM; "
        f"{twice} sent twice; database: {statuses}"
    )


def run_baseline(latency: float, n: int, threads: int = 1) -> Result:
    """The twilio SDK alone against the same stand-in: a loop, on `threads` threads."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    with kit.Fake("twilio", latency=latency, **FAKE_OPTIONS) as fake:
        base = fake.url

        class Redirect(TwilioHttpClient):  # as bot/delivery/twilio.py redirects *.twilio.com
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                path = url.split("twilio.com", 1)[1]
                return super().request(method, base + path, *args, **kwargs)

        client = Client(
            kit.TWILIO_SID,
            kit.TWILIO_TOKEN,
            http_client=Redirect(timeout=10),
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )
        client.messages.create(to="+33699999999", from_=kit.TWILIO_FROM, body="warm-up")
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        fake0 = fake.cpu_seconds()
        started = time.monotonic()

        def loop(first: int) -> None:
            for i in range(first, n, threads):
                client.messages.create(
                    to=f"+3361{i:07d}", from_=kit.TWILIO_FROM, body=f"Baseline message {i}"
                )

        runners = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join()
        span = time.monotonic() - started
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        fake1 = fake.cpu_seconds()
        sent = len(fake.call("messages")) - 1
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    label = (
        "baseline: SDK loop, sequential" if threads == 1 else f"baseline: SDK, {threads} threads"
    )
    return Result(
        label, sent, n, span, n / span, cpu * 1000 / n, (fake1 - fake0) * 1000 / n
    )  # fmt: skip


def _table(results: list[Result], baseline: Result) -> None:
    print(
        f"{'':<36}{'sent':>11}{'msg/s':>9}{'x baseline':>12}{'CPU ms/msg':>12}{'fake ms/msg':>13}"
    )
    for r in results:
        ratio = r.rate / baseline.rate if baseline.rate else float("nan")
        print(
            f"{r.label:<36}{f'{r.sent}/{r.expected}':>11}{r.rate:9.1f}{ratio:12.2f}"
            f"{r.cpu_ms:12.2f}{r.fake_ms:13.2f}"
        )
        for note in r.notes:
            print(f"    {note}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N (a few minutes)")
    parser.add_argument("--n", type=int, help="messages per mode, fake answering at once")
    parser.add_argument("--n-latency", type=int, help="messages per mode with 200 ms latency")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--workers", help="worker counts on PostgreSQL (quick 1,4; full 1,2,4)")
    parser.add_argument("--latency", default="0,0.2", help="fake Twilio latencies (seconds)")
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="DISPATCH_CONCURRENCY per worker"
    )
    parser.add_argument(
        "--pg-admin",
        default=kit.PG_ADMIN_URL,
        help="a PostgreSQL database to create the benchmark's own from (e.g. .../postgres)",
    )
    parser.add_argument(
        "--lean-fake",
        action="store_true",
        help="the fake Twilio skips its OpenAPI check (13 ms of CPU per message): a higher ceiling",
    )
    parser.add_argument("--backlog", type=int, help="stop check backlog (quick 1,000; 10,000)")
    parser.add_argument(
        "--no-stop-check", action="store_true", help="skip the SIGTERM-with-a-backlog check"
    )
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    kit.PG_ADMIN_URL = args.pg_admin  # read by kit.fresh_database and kit.machine
    if args.lean_fake:
        FAKE_OPTIONS["check_schema"] = False
    # A worker claims as many due messages as it has sends in flight: N stays well above
    # that times the workers, or some of them stay idle.
    n = args.n or (150 if args.quick else 2000)
    n_latency = args.n_latency or (300 if args.quick else 2000)
    backlog = args.backlog or (1000 if args.quick else 10000)
    workers = [int(w) for w in (args.workers or ("1,4" if args.quick else "1,2,4")).split(",")]
    dbs = args.db.split(",")
    print(kit.machine(kit.PG_ADMIN_URL if "postgresql" in dbs else None))
    print(
        f"mode: {'quick' if args.quick else 'full'}; N={n} at once, N={n_latency} with latency;"
        f" DISPATCH_CONCURRENCY={args.concurrency}"
    )
    print(
        "targets (issue 11): CPU < 3 ms/msg; instant provider: 1 worker >= 0.5 x the SDK loop;"
        " 200 ms provider: >= 100 msg/s per worker"
    )
    for latency in (float(x) for x in args.latency.split(",")):
        count = n if latency == 0 else n_latency
        print(
            f"\n## fake Twilio answering {'at once' if latency == 0 else f'after {latency * 1000:.0f} ms'}, N={count}"
        )
        kit.log(f"dispatch: baseline, latency {latency}")
        baseline = run_baseline(latency, count)
        results = [baseline]
        if latency > 0 and args.concurrency > 1:
            results.append(run_baseline(latency, count, threads=args.concurrency))
        # Quick mode keeps SQLite to the latency-free case (its slowest part is the latency).
        for kind in dbs if latency == 0 or not args.quick else ["postgresql"]:
            for w in [1] if kind == "sqlite" else workers:
                kit.log(f"dispatch: {kind} x{w}, latency {latency}, N={count}")
                results.append(run_product(kind, w, latency, count, args.concurrency))
        _table(results, baseline)
        if len(results) > 1 and results[1].label.startswith("baseline: SDK,"):
            print(f"    (x baseline is against the sequential loop; threaded SDK: "
                  f"{results[1].rate:.1f} msg/s)")  # fmt: skip
        print(f"load average now {kit.loadavg()}")
    if not args.no_stop_check:
        kind = "postgresql" if "postgresql" in dbs else dbs[0]
        kit.log(f"dispatch: SIGTERM with a backlog of {backlog}, {kind}")
        print(f"\n## SIGTERM to a worker with {backlog} messages due (200 ms latency, {kind})")
        print(stop_check(kind, backlog, args.concurrency))


if __name__ == "__main__":
    main()
