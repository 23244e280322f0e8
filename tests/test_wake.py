"""The wake pipe: a byte written by one process's waker reaches the other's listener."""

from __future__ import annotations

import os
import threading

from bot.wake import WakePipe


def test_wakes_reach_the_listener_and_a_full_pipe_never_blocks_the_writer() -> None:
    pipe = WakePipe()
    woken = threading.Semaphore(0)
    wake = pipe.waker()

    for _ in range(70_000):  # more bytes than a pipe holds: the extra ones are dropped
        wake()
    pipe.listen(woken.release)
    assert woken.acquire(timeout=30)  # the pending bytes woke it (once or a few times)

    while woken.acquire(timeout=0.5):
        pass  # drain the wakes of the first burst
    wake()
    assert woken.acquire(timeout=30)
    os.close(pipe.write_fd)  # every writer gone: the listener's thread ends
