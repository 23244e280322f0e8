"""What the real `reviewops serve` logs: its first lines, nothing while idle, one line per send.

The child runs with LOG_FORMAT=json and two web workers; a request is queued by the CLI in
another process and sent by the child's scheduler process, whose counters any web worker's
/metrics must show (the processes share them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from tests.test_serve import _awake_phone, _wait_for, serving

IDLE_SECONDS = 60.0  # a minute: a dozen dispatch intervals, sixty outbox seconds if Slack were on
KEYS = ["time", "level", "logger", "event", "message"]
# What serve prints on stdout (not log lines): its senders line and the scheduler's state.
ECHOED = {
    "senders: SMS=console, WhatsApp=console, email=console",
    "scheduler running; Ctrl-C to stop",
    "scheduler stopping: no new claims, in-flight sends finish",
}


def _records(text: str) -> list[dict[str, object]]:
    """The log lines (JSON) of the child's output; anything else must be what it echoes or a
    console-sender message."""
    records = []
    in_console_message = False
    for line in text.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
            in_console_message = False
        elif line.startswith("--- console "):
            in_console_message = True  # the console sender prints the message itself
        else:
            assert line in ECHOED or in_console_message, line
    return records


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = requests.get(f"{url}/metrics", timeout=10)
    assert answer.headers["Content-Type"] == CONTENT_TYPE_LATEST  # one charset, not two
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


@pytest.mark.timeout(300)
def test_serve_says_who_sends_first_is_silent_while_idle_and_logs_one_line_per_send(
    tmp_path: Path,
) -> None:
    env = {"LOG_FORMAT": "json", "WEB_CONCURRENCY": "2"}
    with serving(tmp_path, **env) as (url, _child, log):

        def up() -> bool:  # both web workers booted and the scheduler running: start-up done
            text = log.read_text()
            return text.count("Booting worker") == 2 and "scheduler running" in text

        _wait_for(up, "start-up", log)
        started = log.read_text()
        time.sleep(IDLE_SECONDS)  # the window watched, not a wait for a schedule
        idle = log.read_text()[len(started) :]

        phone = _awake_phone()
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
        cli_env |= {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
            "DEFAULT_REGION": "FR",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
        }

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bot", *args],
                cwd=tmp_path,
                env=cli_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            return done

        cli("settings", "set", "send_window=always")  # due now, whatever the hour (real clock)
        queued = cli("send", "Jane Doe", "--phone", phone, "--queue-only")

        def sent() -> bool:
            return '"event": "message.sent"' in log.read_text()

        _wait_for(sent, "sent line", log)  # polling the child's progress, not a schedule
        scrapes = [_samples(url) for _ in range(4)]  # both web workers, whichever answers
    output = log.read_text()

    # The first line says which senders are live; the schema's upgrade comes next.
    first, second = output.splitlines()[:2]
    assert first == "senders: SMS=console, WhatsApp=console, email=console"
    assert json.loads(second)["message"].startswith("database upgraded: applied 0001 → ")

    # Every log line is one JSON object with the same first keys; no library chatter.
    records = _records(output)
    assert all(list(r)[:5] == KEYS for r in records)
    assert not [r for r in records if str(r["logger"]).startswith(("apscheduler", "twilio"))]
    # Idle: not one log line in the window (the heartbeat comes every five minutes).
    assert _records(idle) == []

    # One send: the created line (the CLI's process) and the sent line (the scheduler's).
    [created] = [json.loads(line) for line in queued.stderr.splitlines() if line.startswith("{")]
    masked = f"+33 •••• ••{phone[-2:]}"
    assert created["message"] == f"created #1 (SMS to {masked}) [{created['workspace']}]"
    [sent_line] = [r for r in records if r["event"] == "message.sent"]
    provider_id = str(sent_line["provider_id"])
    assert provider_id.startswith("console-")
    assert sent_line["message"] == (
        f"sent #1 by SMS to {masked} ({provider_id}) [{created['workspace']}]"
    )
    assert (sent_line["request"], sent_line["channel"], sent_line["provider"]) == (
        1,
        "sms",
        "console",
    )
    assert all(phone not in json.dumps(r, ensure_ascii=False) for r in records)

    # The scheduler process's counters, read from the web workers.
    for samples in scrapes:
        assert samples[("reviewops_sends_total", (("channel", "sms"), ("outcome", "sent")))] == 1
        latency = (("channel", "sms"), ("provider", "console"))
        assert samples[("reviewops_send_seconds_count", latency)] == 1
        assert samples[("reviewops_queue_oldest_due_seconds", ())] == 0
