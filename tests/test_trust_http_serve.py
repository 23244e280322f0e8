"""`reviewops serve` for real (gunicorn): bounded bodies, and no URL secret in the access log."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.test_serve import _wait_for, serving
from tests.test_trust_http import chunk, raw_post

SECRETS = ("LINKTOKEN4242", "PIXELTOKEN4242", "UNSUBTOKEN4242", "OAUTHCODE4242", "STATE4242")


@pytest.mark.timeout(180)
def test_served_routes_bound_bodies_and_the_access_log_hides_tokens(tmp_path: Path) -> None:
    with serving(tmp_path) as (url, _child, log):
        head = {"Content-Length": str(100 * 1024 * 1024), "Content-Type": "text/plain"}
        assert raw_post(f"{url}/webhooks/twilio/status", head, b"0123456789")[0] == 413
        chunked = {"Transfer-Encoding": "chunked", "Content-Type": "text/plain"}
        # Over the maximum, and no last chunk: gunicorn reads chunks 1 KB at a time, so 2 KB
        # more than allowed is enough for a server that stops reading to answer.
        body = chunk(b"a" * 64 * 1024) + chunk(b"b" * 2048)
        assert raw_post(f"{url}/webhooks/twilio/status", chunked, body)[0] == 413

        referer = {"Referer": f"{url}/u/UNSUBTOKEN4242"}
        for path in (
            "/r/LINKTOKEN4242",
            "/o/PIXELTOKEN4242.gif",
            "/u/UNSUBTOKEN4242",
            "/slack/oauth_redirect?code=OAUTHCODE4242&state=STATE4242",
        ):
            requests.get(f"{url}{path}", headers=referer, timeout=10)
        _wait_for(lambda: "/slack/oauth_redirect?" in log.read_text(), "access log line", log)

        text = log.read_text()
        assert "GET /r/[redacted] HTTP/1.1" in text
        assert "GET /o/[redacted] HTTP/1.1" in text
        assert "GET /slack/oauth_redirect?code=[redacted]&state=[redacted] HTTP/1.1" in text
        assert f'"{url}/u/[redacted]"' in text  # the referer too
        for secret in SECRETS:
            assert secret not in text
