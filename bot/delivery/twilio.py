"""Send SMS and WhatsApp messages through Twilio's Messages API with the official SDK."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError
from urllib3.exceptions import ProxyError as Urllib3ProxyError

from bot.delivery.base import Outcome, OutgoingMessage, SendResult
from bot.delivery.twilio_reports import NOT_A_RECIPIENT_CODES, OPTED_OUT_CODES, twilio_error_reason
from bot.domain.channels import PHONE_CHANNELS

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twilio.com"
PROVIDER = "twilio"


@dataclass(frozen=True)
class FoundMessage:
    sid: str
    status: str
    to: str
    body: str
    date_created: datetime | None
    error_code: str | None


class TwilioQueryError(Exception):
    """Raised when a lookup (find_messages, fetch_status) cannot get an answer from Twilio."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class RedirectingHttpClient(TwilioHttpClient):
    """Send the SDK's requests to a configurable base URL instead of *.twilio.com."""

    def __init__(
        self, api_url: str = DEFAULT_API_URL, *, timeout: float = 10.0, connections: int = 10
    ) -> None:
        super().__init__(timeout=timeout)
        self.api_url = api_url.rstrip("/")
        if self.session is not None:
            # One kept-alive connection per sending thread (the SDK keeps a few, for https
            # only): beyond the pool's size each send would open and drop a connection.
            adapter = HTTPAdapter(pool_maxsize=max(connections, 1))
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
            # Every request goes to api_url: read the proxy and CA-bundle variables once,
            # not on each send (requests scans the whole environment per request).
            found = self.session.merge_environment_settings(
                self.rewrite(DEFAULT_API_URL), {}, None, None, None
            )
            self.session.proxies.update(found["proxies"])
            self.session.verify = found["verify"]
            self.session.trust_env = False
        # Per thread: the SDK's exceptions drop the headers (Retry-After) and raw body.
        self._local = threading.local()

    def rewrite(self, url: str) -> str:
        """Point a *.twilio.com URL at api_url, keeping its path and query."""
        if self.api_url == DEFAULT_API_URL:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        base = urlsplit(self.api_url)
        path = base.path.rstrip("/") + parts.path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Make the SDK's request against the rewritten URL and remember the response."""
        self._local.last_response = None
        response = super().request(
            method,
            self.rewrite(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        self._local.last_response = response
        return response

    def last_response(self) -> Response | None:
        """Return this thread's last HTTP response, if the last request got one."""
        return getattr(self._local, "last_response", None)

    # The SDK formats every header of each request and response for its INFO lines, printed
    # or not (logging_setup keeps "twilio.http_client" at WARNING): only when they would be.
    def log_request(self, kwargs: dict[str, Any]) -> None:
        """Log the request as the SDK does, when its INFO lines are printed."""
        if self.logger.isEnabledFor(logging.INFO):
            super().log_request(kwargs)

    def log_response(self, status_code: int, response: Any) -> None:
        """Log the response as the SDK does, when its INFO lines are printed."""
        if self.logger.isEnabledFor(logging.INFO):
            super().log_response(status_code, response)


def _not_sent(exc: requests.RequestException) -> bool:
    # True only when the failure happened while connecting: no byte of the request left us.
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        # A TLS error may also come after the request was written: treat as unknown.
        return False
    if isinstance(exc, requests.ConnectionError) and exc.args:
        inner = exc.args[0]
        if isinstance(inner, MaxRetryError):
            # NewConnectionError (refused, DNS) subclasses ConnectTimeoutError.
            return isinstance(inner.reason, ConnectTimeoutError | Urllib3ProxyError)
    return False


def _retry_after(response: Response | None) -> float | None:
    if response is None or not response.headers:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _twilio_message(response: Response | None, fallback: str) -> str:
    if response is not None:
        try:
            payload = json.loads(response.text)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("message"):
            return str(payload["message"])
    return fallback.removeprefix("Unable to create record: ")


def _utc(moment: datetime) -> datetime:
    # The SDK formats filter dates with strftime and a literal Z: give it UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class TwilioSender:
    """Hand SMS and WhatsApp messages to Twilio and map its answer to a SendResult."""

    name = PROVIDER
    channels = frozenset(PHONE_CHANNELS)

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        sms_from: str | None = None,
        messaging_service_sid: str | None = None,
        whatsapp_from: str | None = None,
        timeout: float = 10.0,
        connections: int = 10,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("TwilioSender needs an account SID and an auth token")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.account_sid = account_sid
        self.sms_from = sms_from or None
        self.messaging_service_sid = messaging_service_sid or None
        self.whatsapp_from = whatsapp_from or None
        self.timeout = timeout
        self.http_client = RedirectingHttpClient(api_url, timeout=timeout, connections=connections)
        # The SDK reads TWILIO_EDGE/TWILIO_REGION from os.environ unless given a non-empty
        # mapping (an empty one falls back to os.environ): configuration comes from Settings.
        self.client = Client(
            account_sid,
            auth_token,
            http_client=self.http_client,
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )

    # -- sending ---------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand one message to Twilio and say what became of it; never raise for provider errors."""
        params = self._create_params(message)
        if isinstance(params, SendResult):
            return params
        try:
            created = self.client.messages.create(**params)
        except TwilioRestException as exc:
            return self._rest_error(exc.status, exc.code, exc.msg)
        except TwilioServiceException as exc:
            return self._rest_error(exc.status, exc.code, exc.detail or exc.title)
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            return SendResult(
                Outcome.FAILED, PROVIDER, reason=f"Invalid Twilio API URL (TWILIO_API_URL): {exc}"
            )
        except requests.RequestException as exc:
            if _not_sent(exc):
                return SendResult(
                    Outcome.RETRY, PROVIDER, reason=f"Could not connect to Twilio: {exc}"
                )
            return SendResult(
                Outcome.UNKNOWN,
                PROVIDER,
                reason=f"No answer from Twilio after sending ({type(exc).__name__}); "
                "the message may have been accepted",
            )
        except (TwilioException, ValueError) as exc:
            # A 2xx that did not parse, or similar: the request reached Twilio.
            log.exception("unexpected Twilio answer for message %s", message.message_id)
            return SendResult(
                Outcome.UNKNOWN, PROVIDER, reason=f"Unexpected answer from Twilio: {exc}"
            )
        if not created.sid:
            return SendResult(Outcome.UNKNOWN, PROVIDER, reason="Twilio answered without a SID")
        return SendResult(Outcome.SENT, PROVIDER, provider_id=created.sid)

    def _create_params(self, message: OutgoingMessage) -> dict[str, Any] | SendResult:
        params: dict[str, Any] = {"body": message.body_text}
        if message.status_callback_url:
            params["status_callback"] = message.status_callback_url
        if message.channel == "whatsapp":
            params["to"] = _whatsapp(message.to)
            if self.whatsapp_from:
                params["from_"] = _whatsapp(self.whatsapp_from)
            elif self.messaging_service_sid:
                params["messaging_service_sid"] = self.messaging_service_sid
            else:
                return SendResult(
                    Outcome.FAILED,
                    PROVIDER,
                    reason="No WhatsApp sender configured (TWILIO_WHATSAPP_FROM)",
                )
            return params
        if message.channel != "sms":
            return SendResult(
                Outcome.FAILED, PROVIDER, reason=f"Twilio does not send {message.channel}"
            )
        params["to"] = message.to
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        # An alphanumeric sender id chosen per workspace wins over the configured number.
        sender = message.sender_name or (None if self.messaging_service_sid else self.sms_from)
        if sender:
            params["from_"] = sender
        if "from_" not in params and "messaging_service_sid" not in params:
            return SendResult(
                Outcome.FAILED,
                PROVIDER,
                reason="No SMS sender configured (TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID)",
            )
        return params

    def _rest_error(self, status: int, code: int | None, fallback: str) -> SendResult:
        response = self.http_client.last_response()
        twilio_says = _twilio_message(response, fallback)
        error_code = str(code) if code is not None else str(status)
        if code in NOT_A_RECIPIENT_CODES:
            return SendResult(
                Outcome.FAILED, PROVIDER, error_code=error_code, reason=twilio_error_reason(code)
            )
        if code in OPTED_OUT_CODES:
            return SendResult(
                Outcome.OPTED_OUT,
                PROVIDER,
                error_code=error_code,
                reason=twilio_error_reason(code),
            )
        if status == 429 or code == 20429:
            return SendResult(
                Outcome.RETRY,
                PROVIDER,
                error_code=error_code,
                reason=twilio_error_reason(20429),
                retry_after_seconds=_retry_after(response),
                throttled=True,
            )
        if status >= 500:
            # Twilio may have queued the message before failing: resending could double it.
            return SendResult(
                Outcome.UNKNOWN,
                PROVIDER,
                error_code=error_code,
                reason=f"Twilio answered HTTP {status}: {twilio_says}; "
                "the message may have been accepted",
            )
        if code == 20003 or status == 401:
            return SendResult(
                Outcome.FAILED,
                PROVIDER,
                error_code=error_code,
                reason="Twilio rejected the credentials: check TWILIO_ACCOUNT_SID and "
                "TWILIO_AUTH_TOKEN",
            )
        return SendResult(Outcome.FAILED, PROVIDER, error_code=error_code, reason=twilio_says)

    # -- reconciliation --------------------------------------------------------------------

    def find_messages(
        self,
        to: str,
        sent_after: datetime,
        sent_before: datetime,
        *,
        channel: str = "sms",
        page_size: int | None = None,
    ) -> list[FoundMessage]:
        """List the messages Twilio holds for a recipient sent within a time range."""
        recipient = _whatsapp(to) if channel == "whatsapp" else to
        after, before = _utc(sent_after), _utc(sent_before)
        try:
            found = self.client.messages.list(
                to=recipient, date_sent_after=after, date_sent_before=before, page_size=page_size
            )
        except (TwilioException, requests.RequestException) as exc:
            raise _query_error(exc) from exc
        results = [_found(m) for m in found]
        # Twilio may filter by whole days: keep only what was created inside the range.
        return [
            m
            for m in results
            if m.date_created is None or after <= m.date_created.astimezone(UTC) <= before
        ]

    def fetch_status(self, sid: str) -> FoundMessage:
        """Fetch one message's current state from Twilio."""
        try:
            return _found(self.client.messages(sid).fetch())
        except (TwilioException, requests.RequestException) as exc:
            raise _query_error(exc) from exc


def _whatsapp(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def _found(instance: Any) -> FoundMessage:
    return FoundMessage(
        sid=str(instance.sid),
        status=str(instance.status or ""),
        to=str(instance.to or ""),
        body=str(instance.body or ""),
        date_created=instance.date_created,
        error_code=str(instance.error_code) if instance.error_code is not None else None,
    )


def _query_error(exc: Exception) -> TwilioQueryError:
    if isinstance(exc, TwilioRestException):
        return TwilioQueryError(
            f"Twilio answered HTTP {exc.status}: {exc.msg}", status=exc.status, code=exc.code
        )
    if isinstance(exc, TwilioServiceException):
        return TwilioQueryError(
            f"Twilio answered HTTP {exc.status}: {exc.title}", status=exc.status, code=exc.code
        )
    return TwilioQueryError(f"Could not query Twilio: {exc}")
