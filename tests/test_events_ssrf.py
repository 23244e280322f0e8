"""Outbound events reach only public addresses: the events job resolves the URL's host at
each connection, refuses it unless every address is public (EVENTS_ALLOW_PRIVATE lets
development reach this machine), connects to the address it checked and ignores proxies from
the environment. A refused event is dropped at once with its reason, counted, never retried."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.clock import FrozenClock
from bot.domain.events import allow_private_targets
from scheduler.events_http import RefusedAddress, checked_session
from store.db import Database
from tests.fakes.event_receiver import EventReceiver
from tests.test_events import SECRET, Setup


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[EventReceiver]:
    with EventReceiver(SECRET, clock.now) as server:
        yield server


def by_name(receiver: EventReceiver) -> str:
    """The receiver's URL by the name `localhost` (/etc/hosts: 127.0.0.1), not its address."""
    return receiver.url.replace("127.0.0.1", "localhost")


def test_a_name_leading_to_this_machine_is_refused_at_send_time_and_not_retried(
    db: Database, clock: FrozenClock, receiver: EventReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    # Saved while private targets were allowed; the operator then turned them off.
    setup = Setup(db, clock, None, delay="1d", events_url=by_name(receiver), events_secret=SECRET)
    setup.create()
    allow_private_targets(False)

    assert setup.sender.run_once() == 0
    assert receiver.attempts == []
    row = setup.rows()[0]
    assert row.status == "dropped"
    assert row.last_error is not None
    assert row.last_error.startswith("dropped: refused, localhost leads to ")
    assert "is a private or reserved address" in row.last_error
    assert setup.counted("refused") == 1
    assert "refused, localhost leads to" in caplog.text

    clock.advance(timedelta(days=1))
    assert setup.sender.run_once() == 0
    assert receiver.attempts == [] and setup.counted("refused") == 1


def test_an_address_of_this_machine_is_refused_at_send_time(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    allow_private_targets(False)
    assert setup.sender.run_once() == 0
    assert receiver.attempts == []
    assert "127.0.0.1 is a private or reserved address" in (setup.rows()[0].last_error or "")


def test_with_private_targets_allowed_a_name_is_posted_to_its_checked_address_with_its_host(
    db: Database, clock: FrozenClock, receiver: EventReceiver
) -> None:
    # localhost may resolve to ::1 first, where nothing listens: the next address is tried.
    setup = Setup(db, clock, None, delay="1d", events_url=by_name(receiver), events_secret=SECRET)
    setup.create()
    assert setup.sender.run_once() == 1
    (attempt,) = receiver.attempts
    assert attempt.verified
    assert attempt.headers["host"] == by_name(receiver).split("/")[2]


def test_proxies_from_the_environment_are_not_used(
    db: Database, clock: FrozenClock, receiver: EventReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy could reach what the check refused: the events job goes straight to the receiver.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    setup = Setup(db, clock, receiver, delay="1d")
    setup.create()
    assert setup.sender.run_once() == 1
    assert len(receiver.attempts) == 1


def test_over_tls_the_certificate_is_checked_against_the_name_not_the_address(
    tmp_path: Path,
) -> None:
    cert, key = self_signed(tmp_path, "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port
    try:
        with checked_session() as http:
            answer = http.post(f"https://localhost:{port}/h", data=b"{}", verify=str(cert))
            assert (answer.status_code, _Ok.hosts[-1]) == (204, f"localhost:{port}")
            with pytest.raises(requests.exceptions.SSLError):
                http.post(f"https://127.0.0.1:{port}/h", data=b"{}", verify=str(cert))
            allow_private_targets(False)
            with pytest.raises(RefusedAddress, match="localhost leads to"):
                http.post(f"https://localhost:{port}/h", data=b"{}", verify=str(cert))
    finally:
        server.shutdown()
        server.server_close()


class _Ok(BaseHTTPRequestHandler):
    hosts: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Ok.hosts.append(self.headers.get("Host", ""))
        self.send_response(204)
        self.end_headers()


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """Write a certificate for `name` (and its key), its own authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
