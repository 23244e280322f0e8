"""Wake the dispatcher of another process of the same `serve`: one byte down a pipe.

`serve` opens the pipe before it forks: the web workers inherit the write end, the
scheduler process the read end. A request that becomes due in a web worker writes a byte;
the scheduler process reads it and runs its dispatch job now instead of at its next
interval. A pipe rather than a socket or a database poll: no port or path to choose or
protect (only our own processes hold its ends), and a write costs one system call on the
Slack request's path. Nothing depends on it: the dispatch interval finds what a lost wake
would have announced.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class WakePipe:
    """The two ends of the pipe; `serve` makes it once, before forking its children."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        # A full pipe means wakes are already pending: the writer drops its byte, never waits.
        os.set_blocking(self.write_fd, False)

    def waker(self) -> Callable[[], None]:
        """Return the function a web process calls when something became due now."""
        fd = self.write_fd

        def wake() -> None:
            try:
                os.write(fd, b"w")
            except BlockingIOError:
                pass  # a wake is pending already
            except OSError:
                log.warning("couldn't wake the scheduler process", exc_info=True)

        return wake

    def listen(self, wake: Callable[[], None]) -> threading.Thread:
        """Call `wake` in a daemon thread each time bytes arrive (many bytes, one call)."""
        fd = self.read_fd

        def loop() -> None:
            while True:
                try:
                    if not os.read(fd, 4096):
                        return  # every writer is gone
                except OSError:
                    return
                wake()

        thread = threading.Thread(target=loop, name="wake-pipe", daemon=True)
        thread.start()
        return thread
