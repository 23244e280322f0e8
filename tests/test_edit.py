"""Editing a request before it goes out: name, contact, reference; refused once anything went."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FrozenClock
from bot.domain.errors import Conflict, InvalidInput, NotAllowed
from bot.usecases.inputs import RequestCreate, RequestEdit
from store.db import Database
from tests.helpers import ALICE, Engine, cli_invoker


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> Engine:
    return Engine(db, clock, delay="1d", cooldown_days=30)


def create(engine: Engine, **values: object) -> int:
    data = RequestCreate.model_validate({"name": "Jane Doe", "phone": "0610203040", **values})
    return engine.ops.create(engine.ws, data, ALICE).number


def test_a_queued_request_takes_the_new_name_number_and_reference(engine: Engine) -> None:
    number = create(engine)
    edit = RequestEdit(name="  jane   MARTIN ", phone="06 11 22 33 44", reference="A-7")
    engine.ops.edit(engine.ws, number, edit, ALICE)
    detail = engine.ops.show(engine.ws, number)
    assert detail.request.customer_name == "jane MARTIN"
    assert detail.request.phone == "+33611223344"
    assert detail.request.reference == "A-7"
    assert [m.to_address for m in detail.messages] == ["+33611223344"]
    assert detail.contact is not None and detail.contact.phone == "+33611223344"
    [event] = [e for e in detail.events if e.kind == "edited"]
    assert event.detail["fields"] == ["name", "phone", "reference"]
    said = [c.text for _, c in engine.notifier.changes if c.kind == "edited"]  # type: ignore[attr-defined]
    assert said == ["Edited by <@U0ALICE>: name, phone, reference"]

    engine.clock.advance(timedelta(days=1))
    assert engine.dispatcher.run_until_idle() == 1
    assert "+33611223344" in engine.console_out.getvalue()
    assert "+33610203040" not in engine.console_out.getvalue()


def test_an_unchanged_edit_records_nothing(engine: Engine) -> None:
    number = create(engine)
    engine.ops.edit(engine.ws, number, RequestEdit(name="Jane Doe", phone="+33610203040"), ALICE)
    assert not [e for e in engine.ops.show(engine.ws, number).events if e.kind == "edited"]


def test_bad_fields_are_each_refused_and_nothing_changes(engine: Engine) -> None:
    number = create(engine, method="sms")
    with pytest.raises(InvalidInput) as bad:
        engine.ops.edit(engine.ws, number, RequestEdit(phone="12", email="nope@"), ALICE)
    assert set(bad.value.errors) == {"phone", "email"}
    with pytest.raises(InvalidInput) as landline:
        engine.ops.edit(engine.ws, number, RequestEdit(phone="01 42 68 53 00"), ALICE)
    assert landline.value.field == "phone"
    with pytest.raises(InvalidInput, match="needs a phone number"):
        engine.ops.edit(engine.ws, number, RequestEdit(phone=""), ALICE)
    with pytest.raises(InvalidInput, match="needs an email"):
        email_number = create(engine, phone=None, email="jane@example.com", method="email")
        engine.ops.edit(engine.ws, email_number, RequestEdit(email=""), ALICE)
    assert engine.ops.show(engine.ws, number).request.phone == "+33610203040"


def test_a_sent_request_can_no_longer_be_edited(engine: Engine) -> None:
    number = create(engine, when="now")
    assert engine.dispatcher.run_until_idle() == 1
    with pytest.raises(NotAllowed, match="already gone out"):
        engine.ops.edit(engine.ws, number, RequestEdit(name="Someone Else"), ALICE)
    assert engine.ops.show(engine.ws, number).request.customer_name == "Jane Doe"


def test_a_paused_request_can_be_edited_but_a_canceled_one_cannot(engine: Engine) -> None:
    paused = create(engine)
    engine.ops.pause(engine.ws, [paused], ALICE)
    engine.ops.edit(engine.ws, paused, RequestEdit(reference="B-2"), ALICE)
    assert engine.ops.show(engine.ws, paused).messages[0].status == "paused"
    canceled = create(engine, phone="0611111111")
    engine.ops.cancel(engine.ws, [canceled], ALICE)
    with pytest.raises(NotAllowed):
        engine.ops.edit(engine.ws, canceled, RequestEdit(reference="B-3"), ALICE)


def test_moving_to_a_recently_invited_contact_needs_the_override(engine: Engine) -> None:
    create(engine, name="Paul", phone="0622222222")
    number = create(engine)
    with pytest.raises(Conflict, match="already asked"):
        engine.ops.edit(engine.ws, number, RequestEdit(phone="0622222222"), ALICE)
    assert engine.ops.show(engine.ws, number).request.phone == "+33610203040"
    forced = RequestEdit(phone="0622222222", override_cooldown=True)
    engine.ops.edit(engine.ws, number, forced, ALICE)
    assert engine.ops.show(engine.ws, number).request.phone == "+33622222222"


def test_cli_edit_and_its_refusals(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = cli_invoker(database_url, monkeypatch, tmp_path)

    assert run("send", "Jane Doe", "--phone", "0610203040", "--in", "1d").exit_code == 0
    done = run("edit", "#1", "--name", "Jane Martin", "--email", "jane@example.com")
    assert done.exit_code == 0, done.output
    assert "#1 Jane Martin +33610203040 jane@example.com" in done.output
    bad = run("edit", "1", "--phone", "12")
    assert bad.exit_code == 2 and "phone" in bad.output.lower()
    assert run("edit", "1").exit_code == 2
    assert run("edit", "x", "--name", "A").exit_code == 2
