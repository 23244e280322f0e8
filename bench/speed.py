"""Run the black-box speed benchmarks of issue 11 one after the other.

    .venv/bin/python -m bench.speed            # quick mode of each (make bench)
    .venv/bin/python -m bench.speed --full     # the full runs (long: see BENCHMARKS.md)
    .venv/bin/python -m bench.speed --only dispatch,memory

Each benchmark starts the product's own processes (`reviewops serve`, `reviewops worker`)
against the fake Slack and Twilio of tests/fakes, prints the machine and its load, and
measures a baseline in the same run. PostgreSQL runs use databases named bench4_*.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

BENCHMARKS = ("dispatch", "slack_ack", "webhooks", "memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="full mode instead of quick")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}")
    failed = []
    started = time.monotonic()
    for name in chosen:
        print(f"\n{'=' * 30} bench.{name} {'(full)' if args.full else '(quick)'}", flush=True)
        command = [sys.executable, "-m", f"bench.{name}", *([] if args.full else ["--quick"])]
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
    print(f"\nall done in {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
