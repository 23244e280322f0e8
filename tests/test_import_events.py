"""Imported requests are told `created` like a send form's: a workspace's events URL receives
`request.created` for each (signed, over a real socket, by the real event sender), while the
Slack notifier still posts no card for them."""

from __future__ import annotations

from sqlmodel import func, select

from bot.clock import FrozenClock
from bot.domain.import_file import read_csv
from bot.metrics import Metrics
from bot.usecases.events import EventNotifier
from bot.usecases.import_plan import ImportOptions
from bot.usecases.notifier import Notifiers
from handlers.outbox_writer import SlackNotifier
from scheduler.events import EventSender
from store.db import Database
from store.models import SlackOutbox
from tests.fakes.event_receiver import EventReceiver
from tests.helpers import Engine
from tests.test_events import SECRET, receiver, types  # noqa: F401
from tests.test_import_confirm import BOSS


def test_an_events_url_receives_request_created_for_each_imported_request(
    db: Database,
    clock: FrozenClock,
    receiver: EventReceiver,  # noqa: F811
) -> None:
    notifier = Notifiers([SlackNotifier(clock), EventNotifier(clock)])  # the app's pair
    policy = {"events_url": receiver.url, "events_secret": SECRET, "notify_channel": "C0NOTIFY"}
    engine = Engine(db, clock, notifier=notifier, **policy)
    data = b"name,phone,reference\nBob,0610000002,A-1\nCyd,0610000003,A-2\n"
    plan = engine.ops.imports.check(engine.ws, read_csv(data), ImportOptions())
    engine.ops.imports.confirm(engine.ws, plan, BOSS, file_name="a.csv")
    sender = EventSender(db, clock, metrics=Metrics(), timeout=(2.0, 0.5), spread=lambda: 0.5)
    assert sender.run_once() == 2
    assert all(a.verified for a in receiver.attempts)
    assert types(receiver.taken) == ["request.created", "request.created"]
    requests = [e["data"]["request"] for e in receiver.taken]
    assert [(r["number"], r["reference"], r["status"]) for r in requests] == [
        (1, "A-1", "queued"),
        (2, "A-2", "queued"),
    ]
    assert "+3361" not in str(receiver.taken)  # no personal data
    with db.read() as session:  # no card for an imported request until it needs the team
        assert session.exec(select(func.count()).select_from(SlackOutbox)).one() == 0
