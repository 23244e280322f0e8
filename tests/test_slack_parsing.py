"""What people type after /reviews, read into typed values (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.errors import InvalidInput
from bot.domain.numbers import parse_numbers
from handlers.parsing import (
    Command,
    parse_list_query,
    split_command,
)
from handlers.quick_send import parse_quick_send

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_split_command() -> None:
    assert split_command("  PAUSE  #4 5 ") == Command("pause", "#4 5")
    assert split_command("") == Command("help", "")


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("#42", [42]),
        ("#42 43", [42, 43]),
        ("#42, #43,44", [42, 43, 44]),
        ("40-42 41", [40, 41, 42]),
    ],
)
def test_numbers(text: str, numbers: list[int]) -> None:
    assert parse_numbers(text) == numbers


@pytest.mark.parametrize(
    ("text", "error"),
    [("", "Say which"), ("#x", "'#x' is not"), ("9-1", "range"), ("1-500", "range")],
)
def test_bad_numbers(text: str, error: str) -> None:
    with pytest.raises(InvalidInput, match=error):
        parse_numbers(text)


def test_quick_send_reads_every_option() -> None:
    data = parse_quick_send(
        "Jane Doe +33 6 10 20 30 40 via:whatsapp ref:A-1 type:product lang:FR at:2026-12-01 10:00 force:yes",
        now=NOW,
        timezone="Europe/Paris",
        origin_channel="C1",
    )
    assert (data.name, data.phone, data.email) == ("Jane Doe", "+33 6 10 20 30 40", None)
    assert (data.method, data.reference, data.review_type, data.language) == (
        "whatsapp",
        "A-1",
        "product",
        "fr",
    )
    assert data.when == "at" and data.at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert data.override_cooldown and data.origin_channel == "C1"


def test_quick_send_delays() -> None:
    assert parse_quick_send("Jane j@x.io in:2h", now=NOW, timezone="UTC").delay == timedelta(
        hours=2
    )
    assert parse_quick_send("Jane j@x.io in:0", now=NOW, timezone="UTC").when == "now"
    default = parse_quick_send("Jane j@x.io", now=NOW, timezone="UTC")
    assert default.when == "delay" and default.delay is None


def test_quick_send_wants_the_name_first() -> None:
    with pytest.raises(InvalidInput, match="comes after the phone number"):
        parse_quick_send("+33 6 10 20 30 40 Jane", now=NOW, timezone="UTC")


def test_list_query_reads_every_filter() -> None:
    q = parse_list_query(
        "status:scheduled,failed via:text by:<@U0BOB|bob> from:2026-11-01 to:2026-11-30 type:service ref:A-1 jane",
        timezone="Europe/Paris",
        user_id="U0ME",
    )
    f = q.filter
    assert f.statuses == {"queued", "failed"} and f.channel == "sms" and f.created_by == "U0BOB"
    assert f.created_from == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert f.created_to == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # the whole of the 30th
    assert (f.review_type, f.reference, f.text) == ("service", "A-1", "jane")
    assert parse_list_query("by:me", timezone="UTC", user_id="U0ME").filter.created_by == "U0ME"
    assert (
        parse_list_query("06 10 20 30 40", timezone="UTC", user_id="U", region="FR").filter.phone
        == "+33610203040"
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("by:jane", "not a Slack user"),
        ("via:fax", "not a channel"),
        ("to:2026-11-01 from:2026-11-02", "before"),
    ],
)
def test_bad_list_queries(text: str, error: str) -> None:
    with pytest.raises(InvalidInput, match=error):
        parse_list_query(text, timezone="UTC", user_id="U")
