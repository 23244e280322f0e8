"""A local stand-in for Twilio's REST API (Messages) that the real `twilio` SDK talks to.

Start it with `with FakeTwilio(account_sid, auth_token) as fake:` and give `fake.url` to the
code under test as TWILIO_API_URL. Every request is checked against Twilio's official OpenAPI
description (`reference/specs/twilio_api_v2010.json`) and against the rules the description
cannot express; a request Twilio would reject is answered 400 and listed in
`fake.validation_errors`, which tests assert stays empty.

Scenario numbers (the `To` of a create; a `whatsapp:` prefix is ignored except where noted):

| constant                      | To             | answer                                          |
|-------------------------------|----------------|-------------------------------------------------|
| SCENARIO_INVALID              | +15005550001   | 400, code 21211 invalid 'To' number             |
| SCENARIO_UNSUBSCRIBED         | +15005550004   | 400, code 21610 recipient unsubscribed (STOP)   |
| SCENARIO_NOT_MOBILE           | +15005550009   | 400, code 21614 'To' is not a valid mobile      |
| SCENARIO_WHATSAPP_WINDOW      | +15005550016   | 400, code 63016 outside the 24 h window (only   |
|                               |                | as whatsapp:+15005550016; as SMS it is accepted)|
| SCENARIO_RATE_LIMITED         | +15005550029   | 429, code 20429, Retry-After: RATE_LIMIT_RETRY_AFTER |
| SCENARIO_SERVER_ERROR_ACCEPTED| +15005550050   | message accepted and stored, then 500 code 20500|
| SCENARIO_HANG                 | +15005550060   | message accepted and stored, answer held for    |
|                               |                | `hang_seconds` (released at once on close)      |

The first three are Twilio's own magic test numbers for those errors. Any other number is
accepted: 201 with the message resource, status "queued" ("accepted" with a Messaging Service).

`FakeTwilio(..., latency=0.2)` answers every message create 0.2 s late (a far API, for the
benchmarks in bench/); the default 0 answers at once.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import threading
import time as clock
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from twilio.request_validator import RequestValidator
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

# A copy kept in the repository, so any clone (CI included) validates against it.
SPEC_PATH = Path(__file__).parent / "specs" / "twilio_api_v2010.json"
TWILIO_HOST_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"

SCENARIO_INVALID = "+15005550001"
SCENARIO_UNSUBSCRIBED = "+15005550004"
SCENARIO_NOT_MOBILE = "+15005550009"
SCENARIO_WHATSAPP_WINDOW = "+15005550016"
SCENARIO_RATE_LIMITED = "+15005550029"
SCENARIO_SERVER_ERROR_ACCEPTED = "+15005550050"
SCENARIO_HANG = "+15005550060"

RATE_LIMIT_RETRY_AFTER = 7  # seconds, sent as the Retry-After header of the 429


@dataclass(frozen=True)
class Scenario:
    status: int
    code: int
    message: str
    whatsapp_only: bool = False


# Numbers whose create is refused (nothing stored). Accept-then-fail ones are handled apart.
REFUSALS: dict[str, Scenario] = {
    SCENARIO_INVALID: Scenario(
        400, 21211, f"The 'To' number {SCENARIO_INVALID} is not a valid phone number."
    ),
    SCENARIO_UNSUBSCRIBED: Scenario(400, 21610, "Attempt to send to unsubscribed recipient"),
    SCENARIO_NOT_MOBILE: Scenario(400, 21614, "'To' number is not a valid mobile number"),
    SCENARIO_WHATSAPP_WINDOW: Scenario(
        400,
        63016,
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template.",
        whatsapp_only=True,
    ),
    SCENARIO_RATE_LIMITED: Scenario(429, 20429, "Too Many Requests"),
}

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$"
)
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


@cache
def twilio_openapi() -> OpenAPI:
    """Load Twilio's OpenAPI description once per test session."""
    with SPEC_PATH.open(encoding="utf-8") as f:
        spec = json.load(f)
    # The description is Twilio's own: re-validating 1.8 MB of it costs seconds for nothing.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


class _TwilioHostRequest(WerkzeugOpenAPIRequest):
    # The description's only server is https://api.twilio.com: present requests as sent there.
    @property
    def host_url(self) -> str:
        return TWILIO_HOST_URL


class _QuietHandler(WSGIRequestHandler):
    # One access-log line per request drowns test output; errors are still logged.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]
    status: int | None = None


@dataclass
class WebhookPost:
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int
    body: str


@dataclass
class _State:
    messages: list[dict[str, str]] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    validation_errors: list[str] = field(default_factory=list)
    webhooks: list[WebhookPost] = field(default_factory=list)


def num_segments(body: str) -> int:
    """Count SMS segments the way carriers do: GSM-7 160/153, otherwise UCS-2 70/67."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in body):
        units = sum(2 if c in _GSM7_EXT else 1 for c in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    if units <= single:
        return 1
    return math.ceil(units / multi)


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    """Build an error body shaped like Twilio's."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _bare(number: str) -> str:
    return number.removeprefix("whatsapp:")


def _parse_filter_date(value: str, *, end_of_day: bool) -> datetime:
    # Twilio accepts YYYY-MM-DD (whole day) or a full timestamp in these filters.
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = date.fromisoformat(value)
        moment = time.max if end_of_day else time.min
        return datetime.combine(day, moment, tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class FakeTwilio:
    """Serve Twilio's Messages API on 127.0.0.1 from a background thread."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        now: Callable[[], datetime] | None = None,
        hang_seconds: float = 30.0,
        latency: float = 0.0,
        check_schema: bool = True,
        hang_to: Collection[str] = (),
    ) -> None:
        self.account_sid = account_sid
        # Tests check every request against Twilio's OpenAPI description; a benchmark may skip
        # it, since it costs the fake more CPU per message than the SDK spends sending it.
        self.check_schema = check_schema
        self.auth_token = auth_token
        self.hang_seconds = hang_seconds
        # More recipients answered like SCENARIO_HANG (the fault run picks numbers awake now).
        self.hang_to = frozenset(_bare(n) for n in hang_to)
        # Seconds every message create waits before it is answered (benchmarks: a far API).
        self.latency = latency
        self._now = now or (lambda: datetime.now(UTC))
        self._state = _State()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeTwilio:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on a free loopback port and serve in a daemon thread."""
        if self.check_schema:
            twilio_openapi()  # load before serving so the first request is not slow
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # A short poll interval: shutdown() waits up to one interval, on every test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), name="fake-twilio", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Release held answers and stop serving."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    # -- what the fake saw -----------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, str]]:
        """Return the form fields of every authenticated create, in order (first value per key)."""
        with self._lock:
            return [dict(m) for m in self._state.messages]

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Return the message resources Twilio stored (including accept-then-fail scenarios)."""
        with self._lock:
            return [dict(r) for r in self._state.resources.values()]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return every HTTP request received, with the status it was answered."""
        with self._lock:
            return list(self._state.requests)

    @property
    def validation_errors(self) -> list[str]:
        """Return why each request Twilio would have rejected as malformed was rejected."""
        with self._lock:
            return list(self._state.validation_errors)

    @property
    def webhooks(self) -> list[WebhookPost]:
        """Return every status callback and inbound webhook posted, with the app's answer."""
        with self._lock:
            return list(self._state.webhooks)

    def message(self, sid: str) -> dict[str, Any]:
        """Return the stored resource of one message."""
        with self._lock:
            return dict(self._state.resources[sid])

    def set_status(self, sid: str, status: str, *, error_code: int | None = None) -> None:
        """Change a stored message's status as Twilio would after delivery reports."""
        with self._lock:
            resource = self._state.resources[sid]
            resource["status"] = status
            resource["date_updated"] = format_datetime(self._now())
            if error_code is not None:
                resource["error_code"] = error_code
                resource["error_message"] = None

    # -- webhooks from "Twilio" to the app -------------------------------------------------

    def send_status_callback(
        self,
        message_sid: str,
        status: str,
        *,
        error_code: int | str | None = None,
        url: str | None = None,
        idempotency_token: str | None = None,
    ) -> int:
        """Post a signed status callback for a message and return the app's HTTP status."""
        with self._lock:
            resource = dict(self._state.resources[message_sid])
            status_callback = resource.get("_status_callback")
        target = url or status_callback
        if not target:
            raise ValueError(f"message {message_sid} has no StatusCallback and no url was given")
        self.set_status(
            message_sid, status, error_code=int(error_code) if error_code is not None else None
        )
        params = {
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "AccountSid": self.account_sid,
            "From": resource["from"] or "",
            "To": resource["to"],
            "MessageStatus": status,
            "SmsStatus": status,
            "ApiVersion": API_VERSION,
        }
        if resource.get("messaging_service_sid"):
            params["MessagingServiceSid"] = resource["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return self._post_signed(target, params, idempotency_token)

    def send_inbound(
        self,
        from_: str,
        to: str,
        body: str,
        url: str,
        *,
        idempotency_token: str | None = None,
        service: str | None = None,
    ) -> int:
        """Post a signed inbound-message webhook (a customer's reply) and return the HTTP status.

        `service`: the messaging service `to` belongs to (Twilio adds MessagingServiceSid).
        """
        sid = _new_sid("SM")
        params = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(num_segments(body)),
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }
        if service:
            params["MessagingServiceSid"] = service
        return self._post_signed(url, params, idempotency_token)

    def _post_signed(self, url: str, params: dict[str, str], token: str | None) -> int:
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": token or str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
        }
        response = requests.post(url, data=params, headers=headers, timeout=10)
        with self._lock:
            self._state.webhooks.append(
                WebhookPost(url, params, headers, response.status_code, response.text)
            )
        return response.status_code

    # -- the REST API ----------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        # Read the raw body first: form parsing would consume it before the OpenAPI check.
        request.get_data(cache=True)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query={k: request.args.getlist(k) for k in request.args},
            form={k: request.form.getlist(k) for k in request.form},
            headers=dict(request.headers.items()),
        )
        with self._lock:
            self._state.requests.append(record)
        response = self._handle(request)
        record.status = response.status_code
        return response(environ, start_response)

    def _json(self, status: int, body: Mapping[str, Any], **headers: str) -> Response:
        return Response(
            json.dumps(body), status=status, mimetype="application/json", headers=headers
        )

    def _error(self, status: int, code: int, message: str, **headers: str) -> Response:
        return self._json(status, twilio_error(status, code, message), **headers)

    def _invalid(self, status: int, code: int, message: str) -> Response:
        with self._lock:
            self._state.validation_errors.append(f"{code}: {message}")
        return self._error(status, code, message)

    def _handle(self, request: Request) -> Response:
        many = _MESSAGES_PATH.match(request.path)
        one = _MESSAGE_PATH.match(request.path)
        route = many or one
        if (
            route is None
            or request.method not in ("GET", "POST")
            or (one and request.method != "GET")
        ):
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        if not self._authenticated(request):
            return self._error(
                401, 20003, "Authenticate", **{"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
        if route["account"] != self.account_sid:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        problem = self._openapi_problem(request) if self.check_schema else None
        if problem is not None:
            if request.method == "POST" and not request.form.get("To"):
                return self._invalid(400, 21604, f"A 'To' phone number is required. ({problem})")
            return self._invalid(400, 20001, f"Invalid request: {problem}")
        if one is not None:
            return self._fetch(one["sid"], request.path)
        if request.method == "GET":
            return self._list(request)
        if self.latency > 0:
            clock.sleep(self.latency)
        return self._create(request)

    def _authenticated(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self.auth_token
        )

    def _openapi_problem(self, request: Request) -> str | None:
        try:
            twilio_openapi().validate_request(_TwilioHostRequest(request))
        except Exception as exc:  # openapi-core raises a family of errors: report any
            details = [f"{type(exc).__name__}: {exc}"]
            cause = exc.__cause__
            while cause is not None:
                details.append(f"{type(cause).__name__}: {cause}")
                for sub in getattr(cause, "schema_errors", []) or []:
                    details.append(f"  {getattr(sub, 'message', sub)}")
                cause = cause.__cause__
            return " <- ".join(details)
        return None

    def _create(self, request: Request) -> Response:
        form = request.form
        fields = {k: form.get(k, "") for k in form}
        with self._lock:
            self._state.messages.append(fields)
        to = fields.get("To", "")
        sender = fields.get("From")
        service = fields.get("MessagingServiceSid")
        # What the description cannot say: Twilio's own rules for a create.
        if not sender and not service:
            return self._invalid(400, 21603, "A 'From' phone number is required.")
        if not fields.get("Body") and not form.getlist("MediaUrl") and not fields.get("ContentSid"):
            return self._invalid(400, 21602, "Message body is required.")
        if sender and to.startswith("whatsapp:") != sender.startswith("whatsapp:"):
            return self._invalid(
                400,
                21910,
                "Invalid From and To pair. From and To should be of the same channel",
            )
        if len(fields.get("Body", "")) > 1600:
            return self._invalid(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        refusal = REFUSALS.get(_bare(to))
        if refusal is not None and (not refusal.whatsapp_only or to.startswith("whatsapp:")):
            headers = {}
            if refusal.status == 429:
                headers["Retry-After"] = str(RATE_LIMIT_RETRY_AFTER)
            return self._error(refusal.status, refusal.code, refusal.message, **headers)

        resource = self._store(fields, len(form.getlist("MediaUrl")))
        if _bare(to) == SCENARIO_SERVER_ERROR_ACCEPTED:
            return self._error(500, 20500, "Internal Server Error")
        if _bare(to) == SCENARIO_HANG or _bare(to) in self.hang_to:
            # Hold the answer past the client's timeout; closing the fake lets it go at once.
            self._release.wait(self.hang_seconds)
        return self._json(201, self._public(resource))

    def _store(self, fields: dict[str, str], media: int) -> dict[str, Any]:
        sid = _new_sid("SM")
        created = self._now()
        stamp = format_datetime(created.astimezone(UTC))
        service = fields.get("MessagingServiceSid") or None
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": fields.get("Body", ""),
            "date_created": stamp,
            # Twilio fills date_sent moments later; filters on DateSent must find it.
            "date_sent": stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": fields.get("From") or None,
            "messaging_service_sid": service,
            "num_media": str(media),
            "num_segments": str(num_segments(fields.get("Body", ""))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service and not fields.get("From") else "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": fields["To"],
            "uri": uri,
            "_status_callback": fields.get("StatusCallback") or None,
        }
        with self._lock:
            self._state.resources[sid] = resource
        return resource

    @staticmethod
    def _public(resource: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in resource.items() if not k.startswith("_")}

    def _fetch(self, sid: str, path: str) -> Response:
        with self._lock:
            resource = self._state.resources.get(sid)
        if resource is None:
            return self._error(404, 20404, f"The requested resource {path} was not found")
        return self._json(200, self._public(resource))

    def _list(self, request: Request) -> Response:
        args = request.args
        with self._lock:
            found = list(self._state.resources.values())
        if to := args.get("To"):
            found = [r for r in found if r["to"] == to]
        if sender := args.get("From"):
            found = [r for r in found if r["from"] == sender]
        if on := args.get("DateSent"):
            start = _parse_filter_date(on, end_of_day=False)
            end = _parse_filter_date(on, end_of_day=True)
            found = [r for r in found if start <= parsedate_to_datetime(r["date_sent"]) <= end]
        if after := args.get("DateSent>"):
            bound = _parse_filter_date(after, end_of_day=False)
            found = [r for r in found if parsedate_to_datetime(r["date_sent"]) >= bound]
        if before := args.get("DateSent<"):
            bound = _parse_filter_date(before, end_of_day=True)
            found = [r for r in found if parsedate_to_datetime(r["date_sent"]) <= bound]
        # Newest first, like Twilio; insertion order breaks ties (dict order is creation order).
        ordered = list(enumerate(found))
        ordered.sort(
            key=lambda p: (parsedate_to_datetime(p[1]["date_created"]), p[0]), reverse=True
        )
        found = [r for _, r in ordered]

        page_size = int(args.get("PageSize", "50"))
        page = int(args.get("Page", "0"))
        start_index = page * page_size
        chunk = found[start_index : start_index + page_size]
        base = request.path
        filters = [
            (k, v) for k, v in args.items(multi=True) if k not in ("Page", "PageSize", "PageToken")
        ]

        def page_uri(number: int) -> str:
            query = [*filters, ("PageSize", str(page_size)), ("Page", str(number))]
            if number:
                query.append(("PageToken", f"PASM{number * page_size}"))
            return f"{base}?{urlencode(query)}"

        has_next = start_index + page_size < len(found)
        body = {
            "messages": [self._public(r) for r in chunk],
            "end": start_index + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start_index,
            "uri": page_uri(page),
        }
        return self._json(200, body)


def sign_request(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Compute the X-Twilio-Signature Twilio would send for a form POST to url."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))
