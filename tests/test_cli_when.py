"""`reviewops send` says when each message goes, in the workspace's timezone, and why it waits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import twilio_api as tw
from tests.helpers import CliInvoke, cli_invoker

SID = "AC" + "0" * 32
TOKEN = "secret-token"
FROM = "+15005550006"


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    settings = ("timezone=Europe/Paris", "send_window=mon-fri 09:00-19:00", "cooldown_days=0")
    assert invoke("settings", "set", *settings).exit_code == 0
    return invoke


def said(result_output: str, number: int) -> list[str]:
    return [line for line in result_output.splitlines() if line.startswith(f"#{number} ")][1:]


def test_outside_the_send_window_it_says_when_it_goes_and_why(run) -> None:  # type: ignore[no-untyped-def]
    result = run("send", "Jane", "--phone", "0610203040", "--at", "2030-12-07T10:00")  # a Saturday
    assert result.exit_code == 0, result.output
    assert said(result.output, 1) == [
        "#1 queued: goes Mon 9 Dec 2030 09:00 (Europe/Paris) — "
        "outside the send window mon-fri 09:00-19:00"
    ]


def test_a_public_holiday_is_named(run) -> None:  # type: ignore[no-untyped-def]
    assert run("settings", "set", "holidays=FR").exit_code == 0
    result = run("send", "Jane", "--phone", "0610203040", "--at", "2030-12-25T10:00")
    assert result.exit_code == 0, result.output
    assert said(result.output, 1) == [
        "#1 queued: goes Thu 26 Dec 2030 09:00 (Europe/Paris) — "
        "Christmas Day is a public holiday (FR)"
    ]


def test_the_recipients_hours_are_named_with_their_local_time(run) -> None:  # type: ignore[no-untyped-def]
    # 10:00 in Paris is 04:00 in New York: the text waits for 08:00 there, 14:00 in Paris.
    result = run("send", "Bob", "--phone", "+12125550123", "--at", "2030-12-04T10:00")
    assert result.exit_code == 0, result.output
    assert said(result.output, 1) == [
        "#1 queued: goes Wed 4 Dec 2030 14:00 (Europe/Paris) — the recipient's hours are "
        "08:00-21:00: their local time would be 04:00 in America/New_York"
    ]


def test_each_channel_says_its_own_time(run) -> None:  # type: ignore[no-untyped-def]
    # The email goes at 10:00; the text waits for the recipient's morning.
    result = run(
        "send", "Bob", "--phone", "+12125550123", "--email", "bob@example.com",
        "--via", "sms_and_email", "--at", "2030-12-04T10:00",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = said(result.output, 1)
    assert "#1 SMS queued: goes Wed 4 Dec 2030 14:00 (Europe/Paris) — the recipient's" in lines[0]
    assert lines[1] == (
        "#1 Email queued: goes Wed 4 Dec 2030 10:00 (Europe/Paris) — "
        "at the time asked (--at 2030-12-04T10:00)"
    )


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--in", "2d"], "as asked (--in 2d)"),
        ([], "after the workspace's delay (3d; settings key delay)"),
    ],
)
def test_nothing_else_holding_it_it_says_the_time_asked(run, args: list[str], why: str) -> None:  # type: ignore[no-untyped-def]
    assert run("settings", "set", "send_window=always", "delay=3d").exit_code == 0
    result = run("send", "Jane", "--phone", "0610203040", *args)
    assert result.exit_code == 0, result.output
    (line,) = said(result.output, 1)
    assert line.startswith("#1 queued: goes ") and line.endswith(f"(Europe/Paris) — {why}")


def test_queue_only_says_a_worker_sends_it(run) -> None:  # type: ignore[no-untyped-def]
    assert run("settings", "set", "send_window=always").exit_code == 0
    result = run("send", "Jane", "--phone", "0610203040", "--queue-only")
    assert said(result.output, 1) == [
        "#1 queued: due now; a running `reviewops worker` (or `serve`) sends it"
    ]


@pytest.fixture
def twilio() -> Iterator[tw.FakeTwilio]:
    with tw.FakeTwilio(SID, TOKEN) as fake:
        yield fake


def test_a_message_held_by_its_senders_pace_says_when_it_is_expected(  # type: ignore[no-untyped-def]
    run, twilio: tw.FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM": FROM,
        "TWILIO_API_URL": twilio.url,
        "SENDER_RATES": f"{FROM}=0.01",  # one message every 100 s
    }.items():
        monkeypatch.setenv(name, value)
    assert run("settings", "set", "send_window=always").exit_code == 0
    first = run("send", "Ana", "--phone", "0610203040", "--via", "sms")
    assert said(first.output, 1) == ["#1 sent"]
    second = run("send", "Bea", "--phone", "0610203041", "--via", "sms")
    assert second.exit_code == 0, second.output
    (line,) = said(second.output, 2)
    assert line.startswith("#2 queued: expected about ")
    assert line.endswith(f"(Europe/Paris) (sender {FROM} sends 1 message every 100 s; 0 ahead)")
    assert len(twilio.messages) == 1  # the second waits for its slot: nothing sent twice
