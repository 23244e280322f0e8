"""Where a dispatching worker spends its CPU: py-spy samples the thread holding the GIL of one
real `reviewops worker` (every thread; time in C with the GIL released is not seen) while it sends N queued messages to a lean fake
Twilio answering at once, then prints the functions with the most samples, inclusive and
self, restricted to our code and the libraries it calls.

    .venv/bin/python -m bench.profile_dispatch --n 1500 --db sqlite
    .venv/bin/python -m bench.profile_dispatch --db postgresql --out /tmp/dispatch.txt

Needs py-spy (`pip install py-spy`); the collapsed stacks are written to --out for
flame graphs (e.g. speedscope).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import speedkit as kit

PG_NAME = "profile_" + re.sub(r"[^a-z0-9]+", "_", kit.ROOT.name.lower())


def record(kind: str, n: int, out: Path, concurrency: int) -> float:
    """Run the worker through N messages under py-spy; return CPU ms per message."""
    wd = kit.workdir("profile")
    url = kit.fresh_database(kind, PG_NAME, wd)
    with kit.Fake("twilio", check_schema=False) as fake:
        env = kit.worker_env(url, fake.url, concurrency)
        kit.seed_template(env, wd, "Bench")
        worker = kit.Product(["worker"], env, wd, "worker")
        try:
            worker.wait_output("worker running")
            time.sleep(2)
            pid = max(worker.pids())  # nice -> reviewops: the Python process is the child
            spy = subprocess.Popen(  # noqa: S603
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(pid),
                    "--threads",
                    "--gil",  # only the thread holding the GIL: CPU, not threads waiting
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
            cpu0 = worker.cpu_seconds()
            kit.clone_queued(url, 1, n)
            kit.wait_until(lambda: len(fake.call("messages")) >= n, timeout=600, step=0.2)
            cpu1 = worker.cpu_seconds()
            spy.send_signal(2)
            spy.wait(60)
        finally:
            worker.stop()
    return (cpu1 - cpu0) * 1000 / n


def summarise(out: Path, top: int) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("thread ", "process "))]
        if not frames or "(idle)" in stack:
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    print(f"{total} active samples")
    print("\ninclusive:")
    for frame, count in inclusive.most_common(top):
        print(f"{100 * count / total:5.1f}%  {frame}")
    print("\nself:")
    for frame, count in own.most_common(top):
        print(f"{100 * count / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "profile_dispatch.txt"
    )
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    per_message = record(args.db, args.n, args.out, args.concurrency)
    print(f"worker CPU: {per_message:.1f} ms per message ({args.db}, n={args.n})")
    summarise(args.out, args.top)


if __name__ == "__main__":
    main()
