"""Idle memory of `reviewops serve` and `reviewops worker` after start-up.

Each process is started against a fresh database (Slack and Twilio configured, pointing at
the fakes), left idle, then its PSS and RSS are read from /proc/<pid>/smaps_rollup and
summed over its process tree (serve: the gunicorn arbiter, its web workers, WEB_CONCURRENCY
of them, default the cores but one, and the scheduler process it forks beside them). PSS
shares pages fairly between processes, so it is the figure to add up across processes; RSS
counts shared pages in each. Baselines in the same run: a bare Python interpreter, and one
that imported the same third-party libraries (Flask, Bolt, SQLAlchemy, the twilio SDK...)
and nothing of the product. Issue 11's target: idle `serve` under 150 MiB PSS.

    .venv/bin/python -m bench.memory --quick
    .venv/bin/python -m bench.memory --db postgresql --idle 30
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench import speedkit as kit

LIBRARIES = (
    "flask gunicorn.app.base slack_bolt slack_sdk sqlalchemy sqlmodel alembic pydantic "
    "pydantic_settings apscheduler.schedulers.background twilio.rest jinja2 phonenumbers "
    "email_validator holidays prometheus_client typer itsdangerous psycopg yaml"
).split()


def measure(label: str, pids_of: object, idle: float) -> tuple[str, int, int, int]:
    time.sleep(idle)
    samples = []
    for _ in range(3):
        pids = pids_of()  # type: ignore[operator]
        samples.append((*kit.memory_kib(pids), len(pids)))
        time.sleep(0.5)
    rss, pss, count = max(samples)
    return label, rss, pss, count


def baseline(label: str, code: str, idle: float) -> tuple[str, int, int, int]:
    proc = subprocess.Popen(  # noqa: S603
        [
            "nice",
            "-n",
            "19",
            sys.executable,
            "-c",
            code + "\nimport sys, time\nprint('ready', flush=True)\ntime.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        return measure(label, lambda: [proc.pid], idle)
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--idle", type=float, help="seconds idle before reading (full: 20)")
    parser.add_argument("--web-concurrency", type=int, help="serve's web workers (WEB_CONCURRENCY)")
    args = parser.parse_args()
    idle = args.idle if args.idle is not None else (5.0 if args.quick else 20.0)
    print(kit.machine(kit.PG_ADMIN_URL if args.db == "postgresql" else None))
    print(f"mode: {'quick' if args.quick else 'full'}; {args.db}; read after {idle:.0f} s idle")
    results = [
        baseline("baseline: bare python", "pass", idle),
        baseline(
            "baseline: python + the libraries", "\n".join(f"import {m}" for m in LIBRARIES), idle
        ),
    ]
    stack = kit.Stack(args.db, "memory")
    notes: list[str] = []
    if args.web_concurrency:
        stack.env["WEB_CONCURRENCY"] = str(args.web_concurrency)
    try:
        server = stack.serve()
        results.append(measure("reviewops serve", server.pids, idle))
        worker = stack.worker()
        results.append(measure("reviewops worker", worker.pids, idle))
    finally:
        notes += stack.close()
    libs_pss = results[1][2]
    print(f"\n{'':<36}{'processes':>10}{'RSS MiB':>10}{'PSS MiB':>10}{'PSS x libraries':>17}")
    for label, rss, pss, count in results:
        print(f"{label:<36}{count:>10}{rss / 1024:10.1f}{pss / 1024:10.1f}{pss / libs_pss:17.2f}")
    serve_pss = results[2][2] / 1024
    verdict = "ok" if serve_pss < 150 else "OVER"
    print(f"target: idle serve PSS < 150 MiB: {serve_pss:.1f} MiB, {verdict}")
    print(f"load average now {kit.loadavg()}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
