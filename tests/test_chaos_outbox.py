"""Found by the fault run (issue 16): a worker stopped mid-call past the outbox lease.

A worker killed (`kill -9`) or frozen past the outbox lease (2 min) after Slack stored its
post, but before the row was marked done, must not make the next worker post it again (the
row is in doubt from the moment it is taken), and when it wakes it must not move the
request's thread to another card (every state move is fenced by the lease).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from sqlmodel import select

from bot.clock import FrozenClock
from bot.usecases.inputs import RequestCreate
from handlers.outbox_writer import SlackNotifier
from scheduler.outbox import LEASE, OutboxSender
from scheduler.slack_clients import slack_client
from store.db import Database
from store.models import ReviewRequest, SlackOutbox
from tests.fakes.slack_api import FakeSlack
from tests.helpers import ALICE, Engine

CHANNEL = "C0CHAOS"


class HoldingProxy:
    """Forwards each call to the fake Slack, then holds the answer: its caller stops mid-call.

    hold_first=True holds the call before forwarding it: the post reaches Slack late.
    """

    def __init__(self, target: str, *, hold_first: bool = False) -> None:
        self.release = threading.Event()
        self.forwarded = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                keep = ("Content-Type", "Authorization")
                headers = {k: v for k, v in self.headers.items() if k in keep}
                if hold_first:
                    proxy.forwarded.set()
                    proxy.release.wait(30)
                answer = requests.post(target + self.path, data=body, headers=headers, timeout=10)
                proxy.forwarded.set()
                if not hold_first:
                    proxy.release.wait(30)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def test_a_post_left_by_a_stopped_worker_is_not_posted_again(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    engine = Engine(db, clock, notifier=SlackNotifier(clock), delay="1h")
    engine.ops.create(engine.ws, RequestCreate(name="Jane", phone="0610203040",
                                               origin_channel=CHANNEL), ALICE)  # fmt: skip
    proxy = HoldingProxy(fake.api_url.rstrip("/").removesuffix("/api"))
    held = slack_client(fake.bot_token, base_url=proxy.url + "/api/")
    stopped = OutboxSender(db, lambda _: held, clock)
    worker = threading.Thread(target=stopped.run_once, daemon=True)
    try:
        worker.start()
        assert proxy.forwarded.wait(10)
        assert len(fake.messages(CHANNEL)) == 1  # Slack has the card; the worker never hears
        clock.advance(LEASE + timedelta(seconds=1))
        direct = slack_client(fake.bot_token, base_url=fake.api_url)
        OutboxSender(db, lambda _: direct, clock).run_once()
        assert len(fake.messages(CHANNEL)) == 1
    finally:
        proxy.close()
        worker.join(30)


def test_a_stale_worker_does_not_move_the_thread(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    engine = Engine(db, clock, notifier=SlackNotifier(clock), delay="1h")
    engine.ops.create(engine.ws, RequestCreate(name="Jane", phone="0610203040",
                                               origin_channel=CHANNEL), ALICE)  # fmt: skip
    proxy = HoldingProxy(fake.api_url.rstrip("/").removesuffix("/api"))
    held = slack_client(fake.bot_token, base_url=proxy.url + "/api/")
    worker = threading.Thread(target=OutboxSender(db, lambda _: held, clock).run_once)
    try:
        worker.start()
        assert proxy.forwarded.wait(10)
        clock.advance(LEASE + timedelta(seconds=1))
        direct = slack_client(fake.bot_token, base_url=fake.api_url)
        OutboxSender(db, lambda _: direct, clock).run_once()
        with db.read() as session:
            taken = session.exec(select(ReviewRequest)).one().slack_ts
    finally:
        proxy.close()
        worker.join(30)
    with db.read() as session:
        assert session.exec(select(ReviewRequest)).one().slack_ts == taken


def test_a_stale_worker_whose_post_came_late_deletes_it(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    engine = Engine(db, clock, notifier=SlackNotifier(clock), delay="1h")
    engine.ops.create(engine.ws, RequestCreate(name="Jane", phone="0610203040",
                                               origin_channel=CHANNEL), ALICE)  # fmt: skip
    proxy = HoldingProxy(fake.api_url.rstrip("/").removesuffix("/api"), hold_first=True)
    held = slack_client(fake.bot_token, base_url=proxy.url + "/api/")
    worker = threading.Thread(target=OutboxSender(db, lambda _: held, clock).run_once)
    try:
        worker.start()
        assert proxy.forwarded.wait(10)
        clock.advance(LEASE + timedelta(seconds=1))
        direct = slack_client(fake.bot_token, base_url=fake.api_url)
        OutboxSender(db, lambda _: direct, clock).run_once()
        (card,) = fake.messages(CHANNEL)  # nothing to find: the next worker posts the card
        proxy.release.set()  # the stale worker's post reaches Slack after the card
        worker.join(30)
    finally:
        proxy.close()
        worker.join(30)
    assert [m["ts"] for m in fake.messages(CHANNEL)] == [card["ts"]]
    assert len(fake.calls_to("chat.postMessage")) == 2
    with db.read() as session:
        assert session.exec(select(ReviewRequest)).one().slack_ts == card["ts"]


def test_a_stale_worker_answered_500_leaves_the_finished_row_alone(
    db: Database, clock: FrozenClock, fake: FakeSlack
) -> None:
    engine = Engine(db, clock, notifier=SlackNotifier(clock), delay="1h")
    engine.ops.create(engine.ws, RequestCreate(name="Jane", phone="0610203040",
                                               origin_channel=CHANNEL), ALICE)  # fmt: skip
    fake.fail_next("chat.postMessage", status=500, after_storing=True)
    proxy = HoldingProxy(fake.api_url.rstrip("/").removesuffix("/api"))
    held = slack_client(fake.bot_token, base_url=proxy.url + "/api/")
    worker = threading.Thread(target=OutboxSender(db, lambda _: held, clock).run_once)
    try:
        worker.start()
        assert proxy.forwarded.wait(10)
        clock.advance(LEASE + timedelta(seconds=1))
        direct = slack_client(fake.bot_token, base_url=fake.api_url)
        OutboxSender(db, lambda _: direct, clock).run_once()  # finds the post, adopts it
        proxy.release.set()  # the stale worker hears its 500 now
        worker.join(30)
    finally:
        proxy.close()
        worker.join(30)
    (card,) = fake.messages(CHANNEL)
    with db.read() as session:
        (row,) = session.exec(select(SlackOutbox)).all()
        assert session.exec(select(ReviewRequest)).one().slack_ts == card["ts"]
    assert (row.status, row.attempts, row.last_error) == ("done", 1, None)
