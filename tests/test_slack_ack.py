"""Slack gets its ack before a listener's slow part, however many slow parts are under way.

The real Bolt app behind a real HTTP server talks to the fake Slack, whose `users.info` (the
membership check every command makes before its answer) is held shut by the test: while it
is shut the listener cannot build its page, so an HTTP answer that arrives proves the ack did
not wait for the page. The page then arrives at the response_url once the gate opens. Other
tests hold the answers' posts instead, or drive the listener pool directly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_bolt import Ack

from bot.clock import FrozenClock
from handlers.listener_pool import AFTER_ACK_SLOTS, ListenerPool
from handlers.listener_slots import Slots
from tests.fakes.slack_api import FakeSlack
from tests.slack_harness import TEAM_ID, USER, SlackHarness, text_of

GATED = ("users.info", "views.publish")


class GatedSlack(FakeSlack):
    """The fake Slack, holding the calls named (API methods, or "response_url" for the posts
    to response_urls) until the test opens the gate."""

    def __init__(self, gated: tuple[str, ...] = GATED) -> None:
        super().__init__()
        self.gated = gated
        self.gate = threading.Event()
        self.held = 0

    def _hold(self, what: str) -> None:
        if what in self.gated:
            with self._cond:
                self.held += 1
                self._cond.notify_all()  # wakes wait_for
            self.gate.wait(timeout=60)

    def _handle_api(
        self, method: str, params: dict[str, Any], auth_header: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        self._hold(method)
        return super()._handle_api(method, params, auth_header)

    def _handle_response_url(self, rid: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
        self._hold("response_url")
        return super()._handle_response_url(rid, data)


def _gated_harness(
    database_url: str, clock: FrozenClock, gated: tuple[str, ...]
) -> Iterator[SlackHarness]:
    with GatedSlack(gated) as fake:
        harness = SlackHarness(fake, database_url, clock)
        try:
            yield harness
        finally:
            fake.gate.set()
            harness.close()


@pytest.fixture(name="gated")
def gated_fixture(database_url: str, clock: FrozenClock) -> Iterator[SlackHarness]:
    yield from _gated_harness(database_url, clock, GATED)


@pytest.fixture(name="posts_gated")
def posts_gated_fixture(database_url: str, clock: FrozenClock) -> Iterator[SlackHarness]:
    """The fake Slack holding every answer posted to a response_url."""
    yield from _gated_harness(database_url, clock, ("response_url",))


def _gate(harness: SlackHarness) -> GatedSlack:
    assert isinstance(harness.fake, GatedSlack)
    return harness.fake


def test_list_acks_empty_before_its_page_is_built_and_the_page_comes_by_response_url(
    gated: SlackHarness,
) -> None:
    gated.create("Jane Doe")
    fake = _gate(gated)

    answer = gated.post_command("list")

    assert answer.status_code == 200
    assert answer.text == ""  # an empty ack: the page is not in the HTTP answer
    assert fake.wait_for(lambda: fake.held == 1)  # the listener is still at its admin check
    assert not any(r["url"] == gated.last_response_url for r in fake.responses)
    fake.gate.set()
    page = gated.answer()
    assert "#1" in text_of(page) and "Jane" in text_of(page)


def test_answers_waiting_on_slack_hold_no_slot_so_the_next_ones_are_built_meanwhile(
    posts_gated: SlackHarness,
) -> None:
    posts_gated.create("Jane Doe")
    fake = _gate(posts_gated)
    busy = AFTER_ACK_SLOTS + 4  # more than the slots, and than Bolt's own 5 threads
    urls = []
    for _ in range(busy):
        answer = posts_gated.post_command("list")
        assert (answer.status_code, answer.text) == (200, "")
        urls.append(posts_gated.last_response_url)
    # Every page was built and is being posted (each post held by Slack): none kept its slot
    # for the post, or only AFTER_ACK_SLOTS of them would be this far.
    assert fake.wait_for(lambda: fake.held == busy)

    help_answer = posts_gated.post_command("help")
    assert (help_answer.status_code, help_answer.text) == (200, "")
    assert fake.wait_for(lambda: fake.held == busy + 1)  # built too, while the lists wait
    assert not fake.responses

    fake.gate.set()
    assert "#1" in text_of(posts_gated.answer(urls[0]))
    for url in urls[1:]:
        assert "#1" in text_of(posts_gated.answer(url))  # every one answered in the end
    assert "/reviews" in text_of(posts_gated.answer(posts_gated.last_response_url))


def test_a_web_api_call_waits_on_slack_without_its_slot(gated: SlackHarness) -> None:
    gated.create("Jane Doe")
    fake = _gate(gated)
    busy = AFTER_ACK_SLOTS + 4
    urls = []
    for _ in range(busy):
        assert gated.post_command("list").status_code == 200
        urls.append(gated.last_response_url)
    # Every list is in its membership check's users.info at once: none holds a slot there.
    assert fake.wait_for(lambda: fake.held == busy)
    fake.gate.set()
    for url in urls:
        assert "#1" in text_of(gated.answer(url))


def test_an_event_is_acked_before_its_listener_publishes_the_home_tab(
    gated: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    fake = _gate(gated)
    event = {
        "team_id": TEAM_ID,
        "api_app_id": fake.app_id,
        "event": {"type": "app_home_opened", "user": USER, "channel": "DU", "tab": "home"},
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": 1,
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
    }

    answer = gated.post(json.dumps(event), content_type="application/json")

    assert answer.status_code == 200
    assert fake.wait_for(lambda: fake.held == 1)  # views.publish is held: not published yet
    assert USER not in fake.home_views
    fake.gate.set()
    assert fake.wait_for(lambda: USER in fake.home_views)
    assert "had not acked" not in caplog.text  # acked at once, not by the pool's last resort


def test_a_listener_that_does_not_ack_in_time_gets_an_empty_ack_and_carries_on() -> None:
    pool = ListenerPool(ack_wait=0.01)
    release = threading.Event()
    done = threading.Event()
    ack = Ack()

    def slow(acking: Ack) -> None:
        release.wait(timeout=30)
        acking(response_action="errors", errors={"x": "too late"})  # Slack has its ack by now
        done.set()

    pool.run(ack, slow)
    assert ack.response is not None and ack.response.status == 200
    assert ack.response.body == ""
    release.set()
    assert done.wait(timeout=30)
    pool.close()


def test_past_its_threads_the_pool_acks_a_new_listener_empty_and_runs_it_when_one_frees() -> None:
    pool = ListenerPool(threads=2, after_ack=1, ack_wait=0.05)
    release = threading.Event()
    ran: list[int] = []

    def holding(n: int) -> Callable[[Ack], None]:
        def listener(acking: Ack) -> None:
            ran.append(n)
            acking(text=f"answer {n}")  # then holds the slot, or waits for it, on its thread
            release.wait(timeout=30)

        return listener

    acks = [Ack() for _ in range(3)]
    for n, ack in enumerate(acks):
        pool.run(ack, holding(n))

    # The first two acked themselves (one holds the slot, one waits for it on its thread);
    # the third found no thread: Slack got an empty ack, and the listener has not started.
    assert [a.response.body if a.response else None for a in acks] == ["answer 0", "answer 1", ""]
    assert ran == [0, 1]
    release.set()
    pool.close()
    assert ran == [0, 1, 2]  # run once a thread was free


def _wait(condition: Callable[[], bool]) -> bool:
    done = threading.Event()
    for _ in range(3000):
        if condition():
            return True
        done.wait(0.01)
    return condition()


def test_acked_listeners_queue_for_the_slots_in_the_order_they_came_not_a_thread_each() -> None:
    pool = ListenerPool(threads=1, after_ack=1, answer_threads=1)
    release = threading.Event()
    started: list[int] = []

    def answer(n: int) -> Callable[[], None]:
        def listener() -> None:
            started.append(n)
            release.wait(timeout=30)

        return listener

    for n in range(40):  # forty answers owed, on a pool of one thread: none waits for a thread
        pool.defer(answer(n))
    assert _wait(lambda: started == [0])  # the first holds the slot, the rest are queued

    late = Ack()
    done = threading.Event()

    def modal(acking: Ack) -> None:
        acking(response_action="errors", errors={"x": "said in the ack"})
        done.set()  # its slow part, run once a slot frees

    pool.run(late, modal)  # a listener that acks itself still has its thread
    assert late.response is not None and "said in the ack" in late.response.body
    assert not done.is_set() and started == [0]  # it waits for the slot like the queue does
    release.set()
    pool.close()
    assert started == list(range(40)) and done.is_set()  # each in its turn, none lost


def test_past_the_answers_it_may_owe_the_pool_queues_one_more_after_waiting_for_room(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = ListenerPool(after_ack=1, owed=2, ack_wait=0.05)
    release = threading.Event()
    ran: list[int] = []

    def answer(n: int) -> Callable[[], None]:
        def listener() -> None:
            ran.append(n)
            release.wait(timeout=30)

        return listener

    pool.defer(answer(0))
    pool.defer(answer(1))
    assert "owed" not in caplog.text
    pool.defer(answer(2))  # no room: waited, then queued anyway (Slack must get its ack)
    assert "Slack answers are owed: one more queued past the limit" in caplog.text
    release.set()
    pool.close()
    assert ran == [0, 1, 2]


def test_a_freed_slot_goes_to_the_thread_that_waited_longest() -> None:
    slots = Slots(1)
    slots.take()  # this thread holds the only slot
    order: list[int] = []

    def waiter(n: int) -> None:
        slots.take()
        order.append(n)
        slots.give_back()

    threads = []
    for n in range(5):
        thread = threading.Thread(target=waiter, args=(n,))
        thread.start()
        threads.append(thread)
        assert _wait(lambda n=n: slots.waiting == n + 1)  # in line before the next comes
    slots.give_back()
    for thread in threads:
        thread.join(timeout=30)
    assert order == [0, 1, 2, 3, 4]
    slots.take()  # all given back: free at once
    assert slots.held() and slots.waiting == 0


def test_a_thread_waiting_on_slack_lends_its_slot_and_holds_one_again_after() -> None:
    slots = Slots(1)
    slots.take()
    lent = threading.Event()

    def other() -> None:
        slots.take()
        lent.set()
        slots.give_back()

    thread = threading.Thread(target=other)
    with slots.given_back():
        assert not slots.held()
        thread.start()
        assert lent.wait(timeout=30)  # the slot was free while this thread waited on Slack
    assert slots.held()
    thread.join(timeout=30)
    slots.give_back()
