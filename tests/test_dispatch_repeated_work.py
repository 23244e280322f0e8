"""No repeated work per message: settings are validated when saved, templates compiled once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from jinja2 import Environment

import bot.domain.window as window_module
from bot.clock import FrozenClock
from bot.domain.errors import InvalidInput, NotFound
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_edit import parse_setting_assignments
from bot.domain.policy_read import stored_policy
from bot.usecases.inputs import RequestCreate
from store.db import Database
from tests.helpers import ALICE, Engine


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Count the calls of a library function (wrapped, still called)."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def _queue(engine: Engine, count: int, start: int) -> None:
    for i in range(count):
        data = RequestCreate(name=f"C{i}", phone=f"+33 6 15 55 {start + i:04d}", method="sms")
        engine.ops.create(engine.ws, data, ALICE)


def test_dispatching_reads_settings_and_templates_without_redoing_them(
    db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(db, clock, region="US", cooldown_days=0, sms_template="Hi {{ name }}!")
    _queue(engine, 20, 1000)
    timezone_scans = _counting(monkeypatch, window_module, "available_timezones")
    compiles = _counting(monkeypatch, Environment, "compile")

    assert engine.dispatcher.run_until_idle() == 20

    # The tz database is read at most once per process, not three times per message.
    assert len(timezone_scans) <= 1
    # One custom template, compiled at most once whatever the number of messages.
    assert len(compiles) <= 1
    assert "Hi C19!" in engine.console_out.getvalue()


def test_a_settings_change_reaches_the_next_send(db: Database, clock: FrozenClock) -> None:
    engine = Engine(db, clock, region="US", cooldown_days=0, sms_template="First {{ name }}")
    _queue(engine, 1, 2000)
    engine.dispatcher.run_until_idle()
    policy = parse_setting_assignments(
        engine.ops.policy(engine.ws), ["sms_template=Then {{ name }}"]
    )
    engine.ops.update_policy(engine.ws, policy, ALICE)
    _queue(engine, 1, 2001)
    engine.dispatcher.run_until_idle()

    out = engine.console_out.getvalue()
    assert "First C0" in out and "Then C0" in out
    assert engine.ops.policy(engine.ws).sms_template == "Then {{ name }}"


def test_the_settings_of_a_workspace_that_does_not_exist_are_refused(
    db: Database, clock: FrozenClock
) -> None:
    engine = Engine(db, clock, region="US", business_name="Ours")
    assert engine.ops.policy(engine.ws).business_name == "Ours"
    with pytest.raises(NotFound, match="That workspace doesn't exist"):
        engine.ops.policy(engine.ws + 1000)


def test_a_read_policy_is_the_callers_own_copy() -> None:
    stored = WorkspacePolicy(admins=["U0123ABCD"]).model_dump(mode="json")
    first = stored_policy(stored)
    first.admins.append("U0999ZZZZ")
    first.landing_urls["service.fr"] = "https://x.test"
    again = stored_policy(stored)
    assert again.admins == ["U0123ABCD"] and again.landing_urls == {}
    assert again == WorkspacePolicy.model_validate(stored)


def test_the_same_stored_settings_edited_in_place_are_read_anew() -> None:
    # A batch reads one workspace's stored dict once per message: read again, it is served
    # from what it held, unless it changed since (an edit in place).
    stored = WorkspacePolicy(business_name="Before").model_dump(mode="json")
    assert stored_policy(stored).business_name == "Before"
    assert stored_policy(stored).business_name == "Before"
    stored["business_name"] = "After"
    stored["admins"] = ["U0123ABCD"]
    again = stored_policy(stored)
    assert again.business_name == "After" and again.admins == ["U0123ABCD"]
    assert again == WorkspacePolicy.model_validate(stored)
    stored["admins"].append("U0999ZZZZ")  # a nested edit in place, too
    assert stored_policy(stored).admins == ["U0123ABCD", "U0999ZZZZ"]


def test_settings_are_still_validated_when_saved() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_setting_assignments(WorkspacePolicy(), ["timezone=Mars/Base"])
    assert "'Mars/Base' is not a timezone" in str(refused.value.message)
    with pytest.raises(InvalidInput):
        parse_setting_assignments(WorkspacePolicy(), ["holidays=XX"])
