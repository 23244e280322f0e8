"""GET /metrics: sends by outcome, callbacks accepted and refused, and the queue, as Prometheus reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import FrozenClock
from tests.fakes import twilio_api as tw
from tests.test_webhooks_twilio import PHONE, Web, running, sent_sms


@pytest.fixture
def served(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    with running(database_url, clock, cooldown_days=0) as web:
        yield web


def scrape(web: Web) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(f"{web.url}/metrics", timeout=5)
    assert response.status_code == 200
    # Prometheus's own header, whole: not Flask's mimetype with a second charset appended.
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_sends_callbacks_and_what_waits(served: Web) -> None:
    web = served
    _, sid = sent_sms(web)
    web.create(phone="+33615550101", delay=timedelta(days=1))  # waits in the queue
    assert web.twilio.send_status_callback(sid, "delivered") == 200
    url = f"{web.url}/webhooks/twilio/status"
    params = {"MessageSid": sid, "MessageStatus": "failed", "To": PHONE}
    forged = {"X-Twilio-Signature": tw.sign_request("not-the-token", url, params)}
    assert requests.post(url, data=params, headers=forged, timeout=5).status_code == 403

    samples = scrape(web)
    assert samples[("reviewops_sends_total", (("channel", "sms"), ("outcome", "sent")))] == 1
    accepted = (("result", "accepted"), ("source", "twilio_status"))
    refused = (("result", "refused"), ("source", "twilio_status"))
    assert samples[("reviewops_webhooks_total", accepted)] == 1
    assert samples[("reviewops_webhooks_total", refused)] == 1
    assert samples[("reviewops_messages", (("status", "queued"),))] == 1
    assert samples[("reviewops_messages", (("status", "unknown"),))] == 0
    assert samples[("reviewops_slack_outbox_pending", ())] == 0
    # The delivered callback was answered and stored; nothing has applied it yet.
    assert samples[("reviewops_webhook_inbox_pending", ())] == 1
    assert web.apply_inbox() == 1
    assert scrape(web)[("reviewops_webhook_inbox_pending", ())] == 0


def test_metrics_say_how_late_the_queue_outbox_and_inbox_are_and_how_long_sends_take(
    served: Web, clock: FrozenClock
) -> None:
    web = served
    assert scrape(web)[("reviewops_queue_oldest_due_seconds", ())] == 0
    _, sid = sent_sms(web)
    web.create(phone="+33615550101")  # due now, not sent: waits
    web.create(phone="+33615550102", delay=timedelta(days=1))  # not due: no lag
    assert web.twilio.send_status_callback(sid, "delivered") == 200  # stored, not applied
    clock.advance(timedelta(seconds=42))

    samples = scrape(web)
    assert samples[("reviewops_queue_oldest_due_seconds", ())] == 42
    assert samples[("reviewops_webhook_apply_lag_seconds", ())] == 42
    assert samples[("reviewops_slack_outbox_lag_seconds", ())] == 0  # no Slack here
    latency = (("channel", "sms"), ("provider", "twilio"))
    assert samples[("reviewops_send_seconds_count", latency)] == 1
    assert 0 < samples[("reviewops_send_seconds_sum", latency)] < 30

    web.send_all()
    web.apply_inbox()
    samples = scrape(web)
    assert samples[("reviewops_queue_oldest_due_seconds", ())] == 0
    assert samples[("reviewops_webhook_apply_lag_seconds", ())] == 0
    assert samples[("reviewops_send_seconds_count", latency)] == 2
    # The callback waited 42 s from received to applied.
    source = (("source", "twilio_status"),)
    assert samples[("reviewops_webhook_apply_seconds_count", source)] == 1
    assert samples[("reviewops_webhook_apply_seconds_sum", source)] == 42
    assert samples[("reviewops_webhook_apply_seconds_bucket", (("le", "15.0"), *source))] == 0
    assert samples[("reviewops_webhook_apply_seconds_bucket", (("le", "60.0"), *source))] == 1


def test_under_serve_each_metric_family_is_served_once(tmp_path: Path) -> None:
    """`serve` shares counters through PROMETHEUS_MULTIPROC_DIR: every family must come from the
    files alone (a counter also kept in the process's registry was served twice, which strict
    scrapers refuse). Run in a child process: multiprocess mode is process-wide."""
    script = (
        "from prometheus_client import generate_latest\n"
        "from bot import metrics\n"
        f"metrics.multiprocess({str(tmp_path)!r})\n"
        "m = metrics.Metrics()\n"
        "m.events.labels('delivered').inc()\n"
        "m.sends.labels('sms', 'sent').inc()\n"
        "print(generate_latest(m.registry).decode())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    helps = [line.split()[2] for line in done.stdout.splitlines() if line.startswith("# HELP")]
    assert "reviewops_events_total" in helps and "reviewops_sends_total" in helps
    assert len(helps) == len(set(helps)), sorted(helps)
