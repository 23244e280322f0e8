"""The REST API under load: POST /api/v1/requests and GET /api/v1/requests, next to /healthz.

Set-up: `reviewops serve` (web workers and the scheduler, which sends what the API creates
through the fake Twilio) on a fresh database, a key made with `reviewops apikey create`, its
rate set out of the way (API_BURST), and a history of N requests to list.

Per concurrency level: GET /healthz (baseline: a database round trip), POST /api/v1/requests
(each with its own customer and Idempotency-Key: a create is a write transaction plus the
idempotency record), GET /api/v1/requests?limit=20 (one keyset page with its four counts)
and GET /api/v1/requests?q=... (free-text search): p50/p95/p99/max, requests/s, statuses, and
the CPU time of serve's processes per request (steadier than wall-clock on a shared machine;
it includes the scheduler sending what the creates and the history queued meanwhile).

    .venv/bin/python -m bench.api --quick
    .venv/bin/python -m bench.api --db sqlite --requests 500 --concurrency 10,50
"""

from __future__ import annotations

import argparse
import re
import uuid
from typing import Any

from bench import speedkit as kit

SECRET = re.compile(r"rvo_[A-Za-z0-9_-]{43}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--history", type=int, help="requests in the database before (full: 5000)")
    parser.add_argument("--requests", type=int, help="requests per target and concurrency")
    parser.add_argument("--concurrency", default="10,50")
    parser.add_argument(
        "--name", default="api", help="names the run's database (bench4_<name>) and work folder"
    )
    args = parser.parse_args()
    history = args.history or (1000 if args.quick else 5000)
    per_target = args.requests or (200 if args.quick else 1000)
    levels = [int(c) for c in args.concurrency.split(",")]
    print(kit.machine(kit.PG_ADMIN_URL if args.db == "postgresql" else None))
    print(
        f"mode: {'quick' if args.quick else 'full'}; {args.db}; history {history}; "
        f"{per_target} requests per target and concurrency"
    )
    stack = kit.Stack(args.db, args.name)
    notes: list[str] = []
    try:
        secret_text = stack.cli("apikey", "create", "bench")
        secret = SECRET.findall(secret_text)[0]
        stack.clone(history, first_phone=2_000_000)  # sent by serve's scheduler meanwhile
        stack.env["API_BURST"] = "1000000"
        server = stack.serve()
        print(f"serve: {len(server.pids())} processes (gunicorn arbiter, web workers, scheduler)")
        headers = {"Authorization": f"Bearer {secret}"}
        api = f"{stack.base}/api/v1/requests"
        phones = iter(kit.awake_phones(4_000_000, per_target * len(levels)))

        def healthz(session: Any, i: int) -> Any:
            return session.get(f"{stack.base}/healthz", timeout=30)

        def create() -> Any:
            bodies = [{"name": f"Api {i}", "phone": next(phones)} for i in range(per_target)]

            def send(session: Any, i: int) -> Any:
                key = {**headers, "Idempotency-Key": str(uuid.uuid4())}
                return session.post(api, json=bodies[i], headers=key, timeout=30)

            return send

        def listing(session: Any, i: int) -> Any:
            return session.get(api, params={"limit": 20}, headers=headers, timeout=30)

        def search(session: Any, i: int) -> Any:
            return session.get(api, params={"q": "api 1"}, headers=headers, timeout=30)

        for level in levels:
            print(f"\n## {level} concurrent clients")
            baseline = None
            for label, make in (
                ("baseline: GET /healthz", lambda: healthz),
                ("POST /api/v1/requests", create),
                ("GET /api/v1/requests", lambda: listing),
                ("GET /api/v1/requests?q=", lambda: search),
            ):
                errors = server.error_lines()
                kit.log(f"api: {label} x{per_target} at {level}")
                cpu = server.cpu_seconds()
                latencies, statuses, wall = kit.fire(make(), per_target, level)
                cpu_ms = (server.cpu_seconds() - cpu) * 1000 / per_target
                p99 = kit.pct(latencies, 99)
                baseline = baseline or p99
                print(
                    kit.latency_row(label, latencies)
                    + f"  p99 x{p99 / baseline:.1f} baseline  {per_target / wall:.0f} req/s"
                    + f"  serve CPU {cpu_ms:.1f} ms/req"
                    + f"  HTTP {dict(statuses)}  serve ERROR lines: {server.error_lines() - errors}"
                )
        print(f"\nload average now {kit.loadavg()}")
        if server.proc.poll() is not None:
            notes.append("serve exited during the run")
    finally:
        notes += stack.close()
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
