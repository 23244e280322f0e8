"""The events job's HTTP session: it connects only to addresses events may reach.

A name is resolved when a connection is made, every address it gives is checked
(bot.domain.events.refused_address: public ones only, unless the operator set
EVENTS_ALLOW_PRIVATE) and the connection goes to the address checked, so a name that changes
its answer between the check and the call (DNS rebinding) reaches nothing else. TLS still
checks the certificate against the name (SNI and Host are the URL's). Proxies and .netrc from
the environment are ignored.
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from bot.domain.events import refused_address


class RefusedAddress(Exception):  # noqa: N818 (a refusal, not a failure of ours)
    """The URL's host leads to an address events may not reach; the message says which."""


def checked_addresses(host: str, port: int) -> list[str]:
    """Resolve `host` and return its addresses, in order, once every one of them is allowed.

    :raise RefusedAddress: one of its addresses is private or reserved.
    :raise socket.gaierror: the name does not resolve.
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [str(info[4][0]) for info in found]
    for address in addresses:
        reason = refused_address(address)
        if reason is not None:
            raise RefusedAddress(f"{host} leads to {reason}")
    return list(dict.fromkeys(addresses))


class _Checked:
    """Mixin over urllib3's (2.x) connections: the socket goes to the checked address.

    urllib3 connects to `_dns_host` and keeps `host` for TLS (SNI, certificate) and Host;
    tests/test_events_ssrf.py holds both (a refusal, a delivery by name, TLS by name).
    """

    host: str
    port: int
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        try:
            addresses = checked_addresses(name, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        failed: Exception | None = None
        try:
            for address in addresses:  # each in turn, as a plain connection tries them
                self._dns_host = address
                try:
                    return super()._new_conn()  # type: ignore[misc,no-any-return]
                except (NewConnectionError, ConnectTimeoutError) as exc:
                    failed = exc
        finally:
            self._dns_host = name
        assert failed is not None, "getaddrinfo gives at least one address"
        raise failed


class _CheckedHTTPConnection(_Checked, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_Checked, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


def checked_session() -> requests.Session:
    """Return a requests session that connects only to allowed addresses."""
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment to go around the check
    adapter = _CheckedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
