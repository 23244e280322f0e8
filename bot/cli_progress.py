"""Progress of a long CLI job (export, import): a live bar on a terminal, plain lines when piped.

    with progress(total, verb="exported", noun="requests", label="exporting") as on_progress:
        ... on_progress(done)           # or on_progress(done, total) when the total is learnt

`done` is the count so far (not an increment). Everything goes to standard error, so a job
that writes its data to standard output keeps it clean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

OnProgress = Callable[..., None]  # (done: int, total: int | None = None) -> None
PLAIN_STEPS = 10  # lines a piped job prints at most (besides its own summary)
MIN_PLAIN_EVERY = 1000


@contextmanager
def progress(
    total: int | None,
    *,
    verb: str,
    noun: str = "rows",
    label: str | None = None,
    stream: TextIO | None = None,
    live: bool = True,
) -> Iterator[OnProgress]:
    """Show a job's progress on `stream` (standard error); yield the callback that reports it.

    On a terminal: a bar with the count, the rate and the time left. Otherwise one line
    ("exported 5,000 of 20,000 requests (2,400/s, about 6 s left)") every tenth of the job.
    `live=False` keeps to plain lines (the data itself goes to the same terminal).
    """
    out = stream if stream is not None else sys.stderr
    if live and _is_terminal(out):
        with _bar(total, label=label or verb, noun=noun, stream=out) as on_progress:
            yield on_progress
        return
    yield _PlainLines(total, verb=verb, noun=noun, stream=out)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class RateColumn(ProgressColumn):
    """How many items a second, as people read it."""

    def __init__(self, noun: str) -> None:
        super().__init__()
        self.noun = noun

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text(f"? {self.noun}/s", style="progress.data.speed")
        return Text(f"{speed:,.0f} {self.noun}/s", style="progress.data.speed")


@contextmanager
def _bar(total: int | None, *, label: str, noun: str, stream: TextIO) -> Iterator[OnProgress]:
    console = Console(file=stream, force_terminal=True, stderr=stream is sys.stderr)
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(noun),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=total)

        def on_progress(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                bar.update(task, total=new_total)
            bar.update(task, completed=done)

        yield on_progress


class _PlainLines:
    """Print "verb done of total noun (rate, time left)" each time a step is crossed."""

    def __init__(self, total: int | None, *, verb: str, noun: str, stream: TextIO) -> None:
        self.total, self.verb, self.noun, self.stream = total, verb, noun, stream
        self.started = time.monotonic()
        self.next_line = self._every()

    def _every(self) -> int:
        return max(MIN_PLAIN_EVERY, -(-(self.total or 0) // PLAIN_STEPS))

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None and total != self.total:
            self.total = total
            self.next_line = self._every()
        if done < self.next_line or (self.total is not None and done >= self.total):
            return  # the job's own summary says the end
        every = self._every()
        self.next_line = (done // every + 1) * every
        print(self._line(done), file=self.stream, flush=True)

    def _line(self, done: int) -> str:
        of = f" of {self.total:,}" if self.total else ""
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        pace = f"{rate:,.0f}/s" if rate else "?/s"
        if self.total and rate:
            pace += f", about {_duration((self.total - done) / rate)} left"
        return f"{self.verb} {done:,}{of} {self.noun} ({pace})"


def _duration(seconds: float) -> str:
    """Say a time left as people read it: 45 s, 3 min, 1 h 20 min."""
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
