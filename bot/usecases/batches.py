"""Many threads' items done a batch at a time by one of them (group commit).

A thread hands in its item and waits for it to be done. When nobody is running a batch, the
thread runs one itself with what was handed in meanwhile (the oldest first, at most `limit`);
the others wait for that batch, and the next one starts as soon as it ends (run by a thread
whose item is still waiting). Nothing waits for a batch to fill: alone, a thread runs a batch
of one at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlmodel import Session

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Ticket(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result", "woken")

    def __init__(self, item: T, lock: threading.Lock) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: Exception | None = None
        # Its own condition on the batches' lock: a batch's end wakes its own threads and the
        # one that runs next, not every waiting thread (32 of them woken per batch cost ~4 %
        # of a worker's CPU, each to go back to sleep).
        self.woken = threading.Condition(lock)


class Batches(Generic[T, R]):
    """Run `run(items)` (one result per item, in order) on batches of the items handed in."""

    def __init__(self, run: Callable[[Sequence[T]], Sequence[R]], limit: int) -> None:
        if limit < 1:
            raise ValueError("a batch holds 1 item or more")
        self._run = run
        self.limit = limit
        self._lock = threading.Lock()
        self._waiting: list[_Ticket[T, R]] = []
        self._running = False

    @property
    def waiting(self) -> int:
        """How many items wait for a batch (not counting the one running)."""
        with self._lock:
            return len(self._waiting)

    def do(self, item: T) -> R:
        """Have `item` done in a batch (this thread's or another's); return its result.

        :raise Exception: what the batch raised, when the whole batch failed.
        """
        ticket: _Ticket[T, R] = _Ticket(item, self._lock)
        with self._lock:
            self._waiting.append(ticket)
        while (batch := self._next_batch(ticket)) is not None:
            self._finish(batch)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]  # set with done, error None

    def _next_batch(self, ticket: _Ticket[T, R]) -> list[_Ticket[T, R]] | None:
        """Wait for the running batch; return the next one to run here, or None once done."""
        with self._lock:
            while self._running and not ticket.done:
                ticket.woken.wait()
            if ticket.done:
                return None
            self._running = True
            batch, self._waiting = self._waiting[: self.limit], self._waiting[self.limit :]
            return batch

    def _finish(self, batch: list[_Ticket[T, R]]) -> None:
        results: list[R] | None = None
        error: Exception | None = None
        try:
            results = list(self._run([t.item for t in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except Exception as failed:  # noqa: BLE001 - handed to every thread of the batch
            error = failed
        finally:
            if results is None and error is None:  # interrupted (KeyboardInterrupt, exit)
                error = RuntimeError("the batch was interrupted")
            with self._lock:
                for i, ticket in enumerate(batch):
                    ticket.done, ticket.error = True, error
                    ticket.result = results[i] if error is None and results else None
                    ticket.woken.notify()
                self._running = False
                if self._waiting:  # the oldest runs the next batch (or finds one running)
                    self._waiting[0].woken.notify()


def all_or_each(
    session: Session,
    items: Sequence[T],
    together: Callable[[Sequence[T]], Sequence[R]],
    alone: Callable[[T], R],
    name: Callable[[T], object],
) -> list[R | None]:
    """Do a batch's items in the caller's transaction: all together in one SAVEPOINT; if that
    fails, each alone in its own, so only an item that fails is undone (None, logged).

    A batch of one is done alone, its transaction for a savepoint: what it raises, raises.
    """
    if len(items) == 1:
        return [alone(items[0])]
    try:
        with session.begin_nested():  # written (flushed) when it ends
            return list(together(items))
    except Exception:
        log.warning("a batch of %d failed: done again one by one", len(items))
    done: list[R | None] = []
    for item in items:
        one: R | None = None
        try:
            with session.begin_nested():
                one = alone(item)
        except Exception:
            log.exception("%s failed: undone alone", name(item))
            one = None
        done.append(one)
    return done
