"""One log line per request event, masked: created, sent, failed, refused webhooks, heartbeat.

The real app sends through the real twilio SDK to the fake Twilio; the lines are read as
LOG_FORMAT=json writes them (bot/logging_setup.py's formatter), so their keys are checked too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from bot import logging_setup
from bot.clock import FrozenClock
from bot.logging_setup import formatter
from bot.usecases import event_log
from scheduler import heartbeat
from store import db as store_db
from store.db import Database
from tests.fakes import twilio_api as tw
from tests.fakes.slack_api import FakeSlack
from tests.helpers import cli_invoker
from tests.test_outbox import Setup
from tests.test_webhooks_twilio import NANP_EVENING, PHONE, Web, running

JSON = formatter("json")


def head() -> str:
    """The newest migration."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(store_db.MIGRATIONS_DIR))
    return str(ScriptDirectory.from_config(config).get_current_head())


EVENT_LOGGERS = (
    "reviewops.events",
    "reviewops.heartbeat",
    "bot.webhooks",
    "bot.usecases.inbound",
    "scheduler.outbox",
)


@pytest.fixture
def web(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    with running(database_url, clock, cooldown_days=0, mailgun_signing_key=None) as served:
        yield served


def lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The event lines captured, each as LOG_FORMAT=json writes it."""
    return [
        json.loads(JSON.format(record)) for record in caplog.records if record.name in EVENT_LOGGERS
    ]


def test_a_send_logs_created_and_sent_masked_with_its_fields(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    logging_setup.configure("INFO")  # as `serve` does (undone after the test)
    caplog.set_level(logging.INFO)
    request = web.create(phone=PHONE)
    web.send_all()
    sid = web.sid(request.number)

    created, sent = lines(caplog)
    assert created["message"] == f"created #{request.number} (SMS to +33 •••• ••00) [T0001]"
    assert sent["message"] == f"sent #{request.number} by SMS to +33 •••• ••00 ({sid}) [T0001]"
    assert list(sent)[:5] == ["time", "level", "logger", "event", "message"]
    assert (sent["event"], sent["request"], sent["workspace"]) == ("message.sent", 1, "T0001")
    assert (sent["channel"], sent["provider"], sent["provider_id"]) == ("sms", "twilio", sid)
    assert created["event"] == "request.created" and created["level"] == "INFO"
    # Nothing else at INFO for one send, and never the whole number (nor the SDK's dump).
    assert all(
        PHONE not in r.getMessage() and PHONE[1:] not in r.getMessage() for r in caplog.records
    )
    assert not [r for r in caplog.records if r.name.startswith("twilio")]


def test_at_debug_the_twilio_sdk_still_logs_each_request_without_its_credentials(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    # Our client skips the SDK's request dump only while nobody would see it.
    logging_setup.configure("DEBUG")
    caplog.set_level(logging.DEBUG)
    web.create(phone=PHONE)
    web.send_all()

    dump = [r.getMessage() for r in caplog.records if r.name == "twilio.http_client"]
    assert "-- BEGIN Twilio API Request --" in dump
    assert any(m.startswith("POST Request: ") and "/Messages.json" in m for m in dump)
    assert any(m.startswith("Response Status Code: 201") for m in dump)
    assert not [m for m in dump if "authorization" in m.lower()]


def test_a_refused_number_logs_the_code_and_reason(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    web.clock.set(NANP_EVENING)  # daytime for a +1 number (quiet hours)
    caplog.set_level(logging.INFO)
    request = web.create(phone=tw.SCENARIO_INVALID)
    web.send_all()

    failed = lines(caplog)[-1]
    assert failed["level"] == "WARNING" and failed["event"] == "message.failed"
    assert str(failed["message"]).startswith(
        f"#{request.number} failed by SMS to +1 •••• ••01: 21211 "
    )
    assert (failed["error_code"], failed["request"]) == ("21211", request.number)
    assert tw.SCENARIO_INVALID not in json.dumps(failed)


def test_a_forged_webhook_is_logged_with_its_reason(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{web.url}/webhooks/twilio/status"
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered", "To": PHONE}
    forged = {"X-Twilio-Signature": tw.sign_request("not-the-token", url, params)}
    assert requests.post(url, data=params, headers=forged, timeout=5).status_code == 403
    assert requests.post(url, data=params, timeout=5).status_code == 403

    wrong, missing = (line for line in lines(caplog) if line["event"] == "webhook.refused")
    assert wrong["message"] == "refused a Twilio status webhook: wrong signature"
    assert (wrong["source"], wrong["reason"]) == ("twilio_status", "wrong signature")
    assert missing["reason"] == "no signature"


def test_the_heartbeat_says_what_waits_and_how_late(
    web: Web, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    web.create(phone=PHONE)  # due now, not sent
    web.create(phone="+33615550101", delay=timedelta(days=1))  # waits its day
    clock.advance(timedelta(seconds=90))

    heartbeat.beat(web.app.db, clock)

    beat = lines(caplog)[-1]
    assert beat["message"] == (
        "alive: 2 message(s) queued, oldest due 90s ago; Slack outbox lag 0s, webhook apply lag 0s"
    )
    assert (beat["event"], beat["queued"], beat["oldest_due_seconds"]) == ("heartbeat", 2, 90.0)


def test_library_chatter_stays_at_warning_unless_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The set-up is undone after each test (tests/conftest.py).
    logging_setup.configure("INFO", "json")
    logging.getLogger("apscheduler.executors.default").info('Job "dispatch" executed')
    logging.getLogger("twilio.http_client").info("-- BEGIN Twilio API Request --")
    logging.getLogger("reviewops.events").info("kept", extra={"event": "x"})
    logging.getLogger("x").info("a token /r/abc123 in a URL")
    err = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in err] == [
        "kept",
        "a token /r/[redacted] in a URL",
    ]
    assert json.loads(err[1])["event"] == "log"  # every line has the same keys
    logging_setup.configure("DEBUG", "text")
    logging.getLogger("apscheduler.executors.default").debug("now shown")
    assert "DEBUG apscheduler.executors.default: now shown" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: Input should be 'text' or 'json'"),
    ],
)
def test_a_wrong_log_setting_stops_with_exit_2(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    value: str,
    said: str,
) -> None:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    monkeypatch.setenv(variable, value)
    result = invoke("list")
    assert result.exit_code == 2
    assert f"error: {said}" in result.output


def test_db_upgrade_says_what_it_applied_then_that_nothing_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    invoke = cli_invoker(f"sqlite:///{tmp_path / 'new.db'}", monkeypatch, tmp_path)
    first = invoke("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [f"database upgraded: applied 0001 → {head()}"]
    again = invoke("db", "upgrade")
    assert again.stdout.splitlines() == ["database is up to date"]
    # Alembic's own steps ("Context impl SQLiteImpl.", "Running upgrade ...") are not shown.
    assert "alembic" not in first.output + again.output


@pytest.mark.parametrize(
    ("reason", "logged"),
    [
        (
            "550 5.1.1 <jane.doe@example.com>: Recipient address rejected",
            "550 5.1.1 <[address]>: Recipient address rejected",
        ),
        (
            "The 'To' number +15005550001 is not a valid phone number.",
            "The 'To' number [number] is not a valid phone number.",
        ),
        (
            "Blocked on 2026-12-02 (code 30007) for +33 6 10 20 30 40",
            "Blocked on 2026-12-02 (code 30007) for [number]",
        ),
        ("x" * 5000, "x" * event_log.REASON_MAX),
    ],
    ids=["bounce", "twilio-number", "spaced-number-date-kept", "long"],
)
def test_a_providers_reason_is_logged_without_the_contact_in_it(reason: str, logged: str) -> None:
    assert event_log.scrubbed(reason) == logged


def test_a_slack_post_retried_is_one_line_with_the_request_number(
    db: Database, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with FakeSlack() as fake:
        setup = Setup(db, clock, fake)
        request = setup.create()
        fake.fail_next("chat.postMessage", status=429, retry_after=3)
        assert setup.outbox.run_once() == 0

    [retried] = [r for r in lines(caplog) if r["event"] == "slack.retry"]
    assert retried["message"] == (
        f"Slack root about #{request.number} retried: ratelimited (ratelimited), next try in 3.0s"
    )
    assert (retried["request"], retried["kind"], retried["retry_in_seconds"]) == (
        request.number,
        "root",
        3.0,
    )


def test_a_stop_reply_is_one_line_with_the_number_masked(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    web.create(phone=PHONE)
    web.send_all()
    assert web.inbound("stop") == 200

    [stop] = [r for r in lines(caplog) if r["event"] == "contact.opted_out"]
    assert stop["message"] == "+33 •••• ••00 opted out of texts (replied STOP)"
    assert PHONE not in json.dumps(lines(caplog), ensure_ascii=False)
