"""The few slots in which Slack listeners do their slow part: held while a listener computes,
given back while it waits on Slack.

A slot bounds how many listeners of a process hold the GIL for their answers at once, so the
acks of new requests keep their share of it (handlers/listener_pool.py). Waiting on Slack
(posting an answer to its response_url, a Web API call: 100 to 300 ms each in production)
needs no GIL: a listener that kept its slot meanwhile would leave the process building 2
answers per round trip to Slack, its CPU idle. So the listeners' `respond` and `client` give
their thread's slot back for the call and take one again after it (`give_back_while`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from slack_bolt import Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookResponse


class Slots:
    """A few slots, each held by one thread at a time, handed to waiting threads in the order
    they came (a plain semaphore lets a newcomer take a freed slot ahead of older waiters)."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._free = count
        self._queue: deque[threading.Event] = deque()
        self._mine = threading.local()

    @property
    def waiting(self) -> int:
        """How many threads wait for a slot."""
        with self._lock:
            return len(self._queue)

    def held(self) -> bool:
        """Say whether this thread holds a slot."""
        return bool(getattr(self._mine, "held", False))

    def take(self) -> None:
        """Hold a slot on this thread, waiting in line for one if none is free (no-op if held)."""
        if self.held():
            return
        with self._lock:
            turn = None
            if self._free and not self._queue:
                self._free -= 1
            else:
                turn = threading.Event()
                self._queue.append(turn)
        if turn is not None:
            turn.wait()  # set by give_back, which hands its slot over rather than freeing it
        self._mine.held = True

    def give_back(self) -> None:
        """Hand this thread's slot to the oldest waiter, or free it; no-op if none is held."""
        if not self.held():
            return
        self._mine.held = False
        with self._lock:
            if self._queue:
                self._queue.popleft().set()
            else:
                self._free += 1

    @contextmanager
    def given_back(self) -> Iterator[None]:
        """Free this thread's slot for the block (it waits on the network), then hold one again."""
        if not self.held():
            yield
            return
        self.give_back()
        try:
            yield
        finally:
            self.take()


class SlotFreeRespond(Respond):
    """Bolt's `respond()`, its post to the response_url made with the slot given back."""

    def __init__(self, *, slots: Slots, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._slots = slots

    def __call__(  # type: ignore[override]
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | JsonObject] | None = None,
        attachments: Sequence[dict[str, Any] | JsonObject] | None = None,
        **kwargs: Any,
    ) -> WebhookResponse:
        # Blocks become dicts here, in the slot: that is CPU (a tenth of a list page's), and
        # only the wait for Slack should leave the slot to another listener.
        blocks = _as_dicts(blocks)
        attachments = _as_dicts(attachments)
        with self._slots.given_back():
            return super().__call__(text, blocks=blocks, attachments=attachments, **kwargs)


def _as_dicts(
    items: Sequence[dict[str, Any] | JsonObject] | None,
) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    return [item.to_dict() if isinstance(item, JsonObject) else item for item in items]


class SlotFreeClient(WebClient):
    """A WebClient whose every Web API call is made with the slot given back."""

    def __init__(self, *, slots: Slots, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._slots = slots

    def api_call(self, *args: Any, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        with self._slots.given_back():
            return super().api_call(*args, **kwargs)


def give_back_while(context: BoltContext, slots: Slots) -> None:
    """Give the request's listener a `client` and a `respond` that free its slot for each call.

    Runs as a middleware, after Bolt's authorization has set the request's token.
    """
    client = context.client
    context["client"] = SlotFreeClient(
        slots=slots,
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers),
        team_id=client.default_params.get("team_id"),
        logger=client.logger,
        retry_handlers=client.retry_handlers,
    )
    if context.response_url:
        context["respond"] = SlotFreeRespond(
            slots=slots, response_url=context.response_url, proxy=client.proxy, ssl=client.ssl
        )
