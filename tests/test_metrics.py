"""GET /metrics: sends by outcome, callbacks accepted and refused, and the queue, as Prometheus reads them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
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
    assert response.headers["Content-Type"].startswith("text/plain")
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
