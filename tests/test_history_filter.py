"""The read path's one filter constructor: what Slack's list, the CLI and export all build on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.domain.errors import InvalidInput
from bot.usecases.history import (
    STATUS_GROUPS,
    Criteria,
    HistoryFilter,
    NotAChoice,
    end_of_day,
    history_filter,
    start_of_day,
)
from handlers.parsing import parse_list_query
from tests.helpers import cli_invoker


def build(criteria: Criteria, *, timezone: str = "Europe/Paris") -> HistoryFilter:
    return history_filter(criteria, timezone=timezone, region="FR")


def test_days_are_whole_days_in_the_workspace_timezone() -> None:
    f = build(Criteria(created_from=date(2026, 11, 1), created_to=date(2026, 11, 30)))
    assert f.created_from == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert f.created_to == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # the 30th included
    assert start_of_day(date(2026, 7, 1), "Europe/Paris") == datetime(2026, 6, 30, 22, tzinfo=UTC)
    assert end_of_day(date(2026, 7, 1), "UTC") == datetime(2026, 7, 2, tzinfo=UTC)


def test_one_day_is_a_range_and_a_reversed_range_is_refused() -> None:
    one = build(Criteria(sent_from=date(2026, 11, 2), sent_to=date(2026, 11, 2)))
    assert one.sent_from is not None and one.sent_to is not None
    assert (one.sent_to - one.sent_from).days == 1
    with pytest.raises(InvalidInput, match="from: must come before to:") as caught:
        build(Criteria(created_from=date(2026, 11, 2), created_to=date(2026, 11, 1)))
    assert caught.value.field == "to"


def test_words_are_read_with_their_aliases() -> None:
    f = build(
        Criteria(
            statuses=["Scheduled", " paused ", ""],
            via="text",
            review_type="Product",
            reference="  A-1 ",
            text="  Jane   Doe ",
        )
    )
    assert f.statuses == frozenset({"queued", "paused"})
    assert (f.channel, f.review_type, f.reference, f.text) == ("sms", "product", "A-1", "Jane Doe")
    assert build(Criteria(reference="  ")).reference is None


@pytest.mark.parametrize(
    ("criteria", "field", "value"),
    [
        (Criteria(statuses=["lost"]), "status", "lost"),
        (Criteria(via="pigeon"), "via", "pigeon"),
        (Criteria(review_type="movie"), "type", "movie"),
        (Criteria(via=""), "via", ""),
    ],
)
def test_an_unknown_word_names_its_criterion_and_the_choices(
    criteria: Criteria, field: str, value: str
) -> None:
    with pytest.raises(NotAChoice) as caught:
        build(criteria)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert caught.value.choices


def test_a_phone_typed_as_text_is_read_in_the_workspace_region() -> None:
    f = build(Criteria(text="06 10 20 30 40"))
    assert f.phone == "+33610203040"
    with pytest.raises(InvalidInput, match="at most 100 characters"):
        build(Criteria(text="x" * 101))


def test_the_status_groups_are_the_domain_statuses() -> None:
    assert STATUS_GROUPS["sent"] >= STATUS_GROUPS["opened"] >= STATUS_GROUPS["clicked"]
    assert STATUS_GROUPS["failed"] == frozenset({"failed", "undelivered"})


def test_slack_and_the_cli_read_the_same_words_the_same_way() -> None:
    slack = parse_list_query(
        "status:scheduled via:mail type:service from:2026-11-01 to:2026-11-02 jane",
        timezone="Europe/Paris",
        user_id="U1",
        region="FR",
    ).filter
    cli = build(
        Criteria(
            statuses=["scheduled"],
            via="mail",
            review_type="service",
            created_from=date(2026, 11, 1),
            created_to=date(2026, 11, 2),
            text="jane",
        )
    )
    assert slack == cli


def test_the_cli_names_its_options_in_filter_errors(database_url, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = cli_invoker(database_url, monkeypatch, tmp_path)
    assert run("settings", "set", "send_window=always").exit_code == 0
    listing = run("list", "--via", "mail", "--status", "scheduled")
    assert listing.exit_code == 0, listing.output
    bad = run("list", "--via", "pigeon")
    assert bad.exit_code == 2 and "--via must be sms, whatsapp or email." in bad.output
    too_long = run("list", "--search", "x" * 101)
    assert too_long.exit_code == 2 and "at most 100 characters" in too_long.output
    control = run("list", "--search", "jane\x01")
    assert control.exit_code == 2 and "control character (U+0001)" in control.output
    spaced = run("list", "--search", "jane\tdoe")  # a tab between words is a space
    assert spaced.exit_code == 0, spaced.output
    customer = run("customer", "jane\x00")
    assert customer.exit_code == 2 and "control character (U+0000)" in customer.output
