"""Typed text is bounded before any pattern reads it; a customer's long SMS is cut, still kept.

A 40,000-character word once kept the quick-send parser busy for 40 s (a quadratic pattern).
Each parser now refuses text past its bound before reading it, so the answer to a word ten
times longer is the same refusal: the work no longer grows with the input. Asserted on the
result (refused, or parsed), never on time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.domain.errors import InvalidInput
from bot.domain.timing import parse_delay, parse_when
from handlers.quick_send import MAX_QUICK_SEND
from store.models import ReviewRequest
from tests.slack_harness import SlackHarness, slack_fixture  # noqa: F401
from tests.test_cli import run  # noqa: F401  (the CLI fixture)
from tests.test_webhooks_twilio import PHONE, Web, sent_sms
from tests.test_webhooks_twilio import web as web  # noqa: F401  (the served app)

LONG_WORD = "1" * 40_000 + "x"  # digits, then not a phone: every split of it was tried
# The most text a signed slash command can bring: the Slack route refuses a body over 1 MB
# (bot/http_limits.py) before it is parsed, so the parsers' own bounds are shown just under it.
NEAR_A_MEGABYTE = "word " * 180_000
# The Twilio routes read at most 64 KB (bot/http_limits.py): the longest text a signed
# inbound webhook can bring, far past Twilio's own 1,600 characters.
LARGEST_FORM = "word " * 11_000


def ask(slack: SlackHarness, text: str) -> str:
    assert slack.post_command(text).status_code == 200
    return str(slack.answer()["text"])


def stored_requests(slack: SlackHarness) -> int:
    with slack.app.db.read() as session:
        return len(session.exec(select(ReviewRequest)).all())


@pytest.mark.parametrize("word", [LONG_WORD, LONG_WORD * 10], ids=["40k", "400k"])
def test_a_huge_word_in_a_quick_send_is_refused_before_it_is_read(
    slack: SlackHarness, word: str
) -> None:
    answer = ask(slack, f"send Jane {word}")
    assert f"That request is too long: at most {MAX_QUICK_SEND:,} characters." in answer
    assert "Jane" not in answer  # not echoed back: refused before reading
    assert stored_requests(slack) == 0


def test_a_long_phone_like_word_within_the_bound_is_read_as_a_word(slack: SlackHarness) -> None:
    # The rewritten phone pattern still reads phone parts, and a digit run ending in a letter
    # (what was quadratic) is a word after the phone: refused with the usual words.
    answer = ask(slack, f"send Jane +33 6 10 20 30 40 {'1' * 900}x")
    assert "comes after the phone number" in answer


def test_a_megabyte_of_list_filter_is_refused(slack: SlackHarness) -> None:
    for text in ("word " * 18_000, NEAR_A_MEGABYTE):
        assert "That filter is too long: at most 4,000 characters." in ask(slack, f"list {text}")
    # Past the route's maximum the body is not even read.
    assert slack.post_command(f"list {NEAR_A_MEGABYTE * 2}").status_code == 413


def test_a_megabyte_of_request_numbers_is_refused(slack: SlackHarness) -> None:
    for count in (100_000, 500_000):  # "#1 " is 5 bytes form-encoded: under the 1 MB route limit
        answer = ask(slack, "pause " + "#1 " * (count // 3))
        assert "That list of requests is too long" in answer


@pytest.mark.parametrize(
    "typed",
    ["1" + " " * 40_000 + "x", "2" + " " * 400_000 + "h", "9" * 40_000 + "h"],
    ids=["blanks-40k", "blanks-400k", "digits-40k"],
)
def test_a_huge_delay_or_time_is_refused_before_it_is_read(typed: str) -> None:
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="That delay is too long"):
        parse_delay(typed)
    with pytest.raises(InvalidInput, match="That time is too long"):
        parse_when(typed, now=now, tz="Europe/Paris")


def test_delays_still_read_as_before() -> None:
    assert parse_delay("2h") == timedelta(hours=2)
    assert parse_delay(" 3 d ") == timedelta(days=3)
    assert parse_delay("0") == timedelta(0)
    with pytest.raises(InvalidInput, match="not a delay"):
        parse_delay("12345678h")  # more digits than a delay of a year needs
    with pytest.raises(InvalidInput, match="at most a year"):
        parse_delay("9999999h")


def test_the_cli_refuses_a_huge_delay_and_number_list_with_exit_code_2(run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    refused = run("send", "Jane", "--phone", "0610203040", "--in", "1" + " " * 40_000 + "x")
    assert refused.exit_code == 2, refused.output
    assert "That delay is too long" in refused.output
    refused = run("pause", *(["#1"] * 100_000))
    assert refused.exit_code == 2, refused.output[:300]
    assert "That list of requests is too long" in refused.output


def test_a_55_kb_sms_reply_is_cut_stored_and_classified(web: Web) -> None:  # noqa: F811
    number, _ = sent_sms(web)
    assert web.inbound("Great service! " + LARGEST_FORM) == 200
    [event] = web.events(number, "reply")
    assert event.detail["text"].startswith("Great service! word word")
    assert len(event.detail["text"]) <= 1600
    [change] = web.changes("reply")
    assert change.quote == event.detail["text"]


def test_stop_followed_by_55_kb_of_blanks_still_opts_out(web: Web) -> None:  # noqa: F811
    sent_sms(web)
    assert web.inbound("STOP" + " " * len(LARGEST_FORM)) == 200
    assert web.contact(PHONE).phone_opted_out_at is not None
