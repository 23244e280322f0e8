"""HTTP routes customers and providers reach: Twilio and email webhooks, links, pixel, unsubscribe.

Each route verifies what it receives, hands it to one use-case (bot.usecases.feedback) and answers
fast; nothing here decides what a report means. Twilio status callbacks come in bursts: they are
only stored (bot.usecases.inbox) before the answer, and applied after it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as xml_escape  # noqa: S406  (escaping our own output only)

from flask import Blueprint, Flask, Response, abort, redirect, request
from twilio.request_validator import RequestValidator

from bot import tracing
from bot.app import ReviewOpsApp
from bot.clock import Clock
from bot.delivery import mailgun_reports, twilio_reports
from bot.domain.errors import NotFound
from bot.usecases import event_log
from bot.usecases.feedback import Feedback

if TYPE_CHECKING:
    from scheduler.inbox import InboxDrainer

log = logging.getLogger(__name__)

MAILGUN_MAX_AGE = timedelta(minutes=5)
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# Mail security gateways and link previewers fetch links before (or instead of) people.
SCANNER_AGENTS = (
    "barracuda",
    "proofpoint",
    "mimecast",
    "microsoft office",
    "safelinks",
    "bot",
    "preview",
    "facebookexternalhit",
    "slackbot-linkexpanding",
    "spider",
    "crawler",
    "python-requests",
    "curl/",
    "wget/",
    "headlesschrome",
)


def is_scanner(user_agent: str | None) -> bool:
    """Say whether a request comes from a link scanner or previewer rather than a person."""
    agent = (user_agent or "").lower()
    return not agent or any(word in agent for word in SCANNER_AGENTS)


def twiml_message(text: str) -> str:
    """Return a TwiML document answering with one message."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{xml_escape(text)}</Message></Response>"
    )


class MailgunVerifier:
    """Check Mailgun webhook signatures: HMAC, freshness, and one use per token."""

    def __init__(self, signing_key: str, clock: Clock, *, max_age: timedelta = MAILGUN_MAX_AGE):
        self.signing_key = signing_key.encode()
        self.clock = clock
        self.max_age = max_age
        # Tokens older than max_age are refused as stale anyway: remembering those is enough.
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, signature: Any) -> int | None:
        """Return None when the signature is good and fresh, else the HTTP status to refuse with."""
        if not isinstance(signature, dict):
            return 403
        timestamp = str(signature.get("timestamp") or "")
        token = str(signature.get("token") or "")
        given = str(signature.get("signature") or "")
        if not (timestamp and token and given):
            return 403
        expected = hmac.new(
            self.signing_key, (timestamp + token).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, given):
            return 403
        try:
            sent_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
        except (ValueError, OverflowError, OSError):
            return 403
        now = self.clock.now()
        if abs(now - sent_at) > self.max_age:
            return 406  # Mailgun stops retrying on 406
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self.max_age:
                self._seen.popitem(last=False)
            if token in self._seen:
                return 406
            self._seen[token] = now
        return None


Counted = Callable[[str, str], None]  # (source, result): a webhook metric
# Why MailgunVerifier.check refused, by the status it answers.
MAILGUN_REFUSALS = {403: "missing or wrong signature", 406: "too old, or a replay"}


def register_webhooks(
    target: Blueprint | Flask,
    app: ReviewOpsApp,
    *,
    twilio_auth_token: str | None,
    mailgun_signing_key: str | None,
    public_url: str,
) -> Feedback:
    """Add the webhook, link, pixel and unsubscribe routes to a blueprint or Flask app."""
    feedback = Feedback(app.ops)

    def counted(source: str, result: str) -> None:
        app.metrics.webhooks.labels(source, result).inc()

    validator = RequestValidator(twilio_auth_token) if twilio_auth_token else None
    verified = _twilio_verifier(validator, public_url.rstrip("/"), counted)
    drainer = app.inbox()
    _twilio_status_route(
        target, drainer, drainer.wake if app.inbox_in_background else None, verified
    )
    _twilio_inbound_route(target, feedback, verified)
    mailgun = MailgunVerifier(mailgun_signing_key, app.clock) if mailgun_signing_key else None
    _email_routes(target, feedback, mailgun, counted)
    _link_routes(target, feedback)
    return feedback


def _twilio_verifier(
    validator: RequestValidator | None, base: str, counted: Counted
) -> Callable[[str], bool]:
    """Return the check of a Twilio request's signature (counted, logged when refused)."""

    def verified(source: str) -> bool:
        # Twilio signs the URL it was given: ours as the public sees it, whatever proxy is between.
        signature = request.headers.get("X-Twilio-Signature", "")
        url = base + request.path
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        ok = bool(validator and signature and validator.validate(url, request.form, signature))
        if not ok:
            why = "wrong signature" if signature else "no signature"
            log.warning(
                "refused a Twilio %s webhook: %s",
                source,
                why,
                extra=event_log.fields("webhook.refused", source=f"twilio_{source}", reason=why),
            )
        counted(f"twilio_{source}", "accepted" if ok else "refused")
        return ok

    return verified


def _twilio_status_route(
    target: Blueprint | Flask,
    drainer: InboxDrainer,
    wake: Callable[[], None] | None,
    verified: Callable[[str], bool],
) -> None:
    """Add Twilio's status callback route: verify, store in the inbox, answer; applied after."""

    @target.post("/webhooks/twilio/status")
    def twilio_status() -> Response:
        # The body is at most bot/http_limits.py's maximum for Twilio, read before this runs.
        if not verified("status"):
            return Response("invalid signature\n", status=403, mimetype="text/plain")
        form = request.form
        word = form.get("MessageStatus") or form.get("SmsStatus") or ""
        error_code = form.get("ErrorCode")
        # An earlier stage (queued, accepted) can never move a message on: nothing to store.
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        if twilio_reports.status_report(word, error_code) is not None:
            with tracing.span("reviewops.status_callback", provider_id=sid[:64], status=word[:32]):
                drainer.inbox.store_twilio_status(
                    sid=sid,
                    to=form.get("To", ""),
                    status=word,
                    error_code=error_code,
                    idempotency_token=request.headers.get("I-Twilio-Idempotency-Token"),
                )
            if wake is not None:
                wake()
        return Response(EMPTY_TWIML, mimetype="text/xml")


def _twilio_inbound_route(
    target: Blueprint | Flask, feedback: Feedback, verified: Callable[[str], bool]
) -> None:
    """Add Twilio's inbound message route.

    Applied before the answer, not through the inbox: a STOP must hold before anything else is
    sent, HELP is answered in the reply itself, and replies are few.
    """

    @target.post("/webhooks/twilio/inbound")
    def twilio_inbound() -> Response:
        if not verified("inbound"):
            return Response("invalid signature\n", status=403, mimetype="text/plain")
        form = request.form
        answer = feedback.inbound(
            sid=form.get("MessageSid") or form.get("SmsMessageSid") or "",
            from_=form.get("From", ""),
            to=form.get("To", ""),  # our sender: only its workspaces get the text
            body=form.get("Body", ""),
            service=form.get("MessagingServiceSid"),
        )
        body = twiml_message(answer.reply) if answer.reply else EMPTY_TWIML
        return Response(body, mimetype="text/xml")


def _email_routes(
    target: Blueprint | Flask,
    feedback: Feedback,
    mailgun: MailgunVerifier | None,
    counted: Counted,
) -> None:
    """Add the email provider's event webhook (Mailgun)."""

    @target.post("/webhooks/email/<provider>")
    def email_webhook(provider: str) -> Response:
        if provider != "mailgun":
            abort(404)
        if mailgun is None:
            log.warning("a Mailgun webhook arrived but MAILGUN_SIGNING_KEY is not set")
            return Response("not configured\n", status=403, mimetype="text/plain")
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return Response("expected JSON\n", status=400, mimetype="text/plain")
        refused = mailgun.check(payload.get("signature"))
        if refused is not None:
            why = MAILGUN_REFUSALS.get(refused, "refused")
            log.warning(
                "refused a Mailgun webhook: %s",
                why,
                extra=event_log.fields("webhook.refused", source="mailgun", reason=why),
            )
            counted("mailgun", "refused")
            return Response("refused\n", status=refused, mimetype="text/plain")
        counted("mailgun", "accepted")
        data = payload.get("event-data")
        fields = _mailgun_fields(data) if isinstance(data, dict) else None
        if not isinstance(data, dict) or fields is None:
            log.warning("refused a signed Mailgun event whose event-data is not Mailgun's shape")
            return Response("malformed event-data\n", status=400, mimetype="text/plain")
        headers, status = fields
        code = status.get("code")
        email = mailgun_reports.email_report(
            _text(data.get("event")) or "",
            _text(data.get("severity")),
            str(code) if isinstance(code, int | str) and code != "" else None,
            _text(status.get("description"))
            or _text(status.get("message"))
            or _text(data.get("reason")),
        )
        feedback.email_events.report(
            provider="mailgun",
            message_id=_text(headers.get("message-id")) or "",
            event_id=_text(data.get("id")) or "",
            email=email,
        )
        return Response(status=200)


def _mailgun_fields(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Return an event's message headers and delivery status, or None if they are not objects."""
    message = data.get("message") or {}
    headers = (message.get("headers") or {}) if isinstance(message, dict) else None
    status = data.get("delivery-status") or {}
    if not isinstance(headers, dict) or not isinstance(status, dict):
        return None
    return headers, status


def _text(value: Any) -> str | None:
    """A string field of a provider's JSON, or None whatever else was sent in its place."""
    return value if isinstance(value, str) else None


def _link_routes(target: Blueprint | Flask, feedback: Feedback) -> None:
    """Add the customer's routes: the tracked review link, the open pixel, unsubscribe."""

    @target.route("/r/<token>", methods=["GET", "HEAD"])
    def tracked_link(token: str) -> Any:
        counted = request.method == "GET" and not is_scanner(request.headers.get("User-Agent"))
        try:
            url = feedback.click(token, counted=counted)
        except NotFound:
            abort(404)
        if url is None:
            page = "<!doctype html><title>Thank you</title><p>Thank you!</p>"
            return Response(page, mimetype="text/html", headers=NO_CACHE)
        response = redirect(url, code=302)
        response.headers.update(NO_CACHE)
        return response

    @target.get("/o/<token>.gif")
    def open_pixel(token: str) -> Response:
        # Image proxies and privacy prefetch open too: the team sees opens labelled so.
        found = feedback.opened(token)
        if not found:
            abort(404)
        return Response(PIXEL, mimetype="image/gif", headers=NO_CACHE)

    @target.route("/u/<token>", methods=["GET", "POST"])
    def unsubscribe(token: str) -> Response:
        if request.method == "GET":
            try:
                feedback.message_by_token(token)
            except NotFound:
                abort(404)
            return Response(_confirm_page(token), mimetype="text/html", headers=NO_CACHE)
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        if not one_click and request.form.get("confirm") != "yes":
            return Response("nothing to do\n", status=400, mimetype="text/plain")
        try:
            feedback.unsubscribe(token)
        except NotFound:
            abort(404)
        if one_click and request.form.get("confirm") != "yes":
            return Response("unsubscribed\n", mimetype="text/plain")
        return Response(_done_page(), mimetype="text/html", headers=NO_CACHE)


def _confirm_page(token: str) -> str:
    action = f"/u/{escape(token)}"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<title>Unsubscribe</title></head><body>"
        "<h1>Unsubscribe</h1><p>Stop receiving review requests by email?</p>"
        f"<form method='post' action='{action}'>"
        "<input type='hidden' name='List-Unsubscribe' value='One-Click'>"
        "<input type='hidden' name='confirm' value='yes'>"
        "<button type='submit'>Unsubscribe</button></form></body></html>"
    )


def _done_page() -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Unsubscribed</title></head>"
        "<body><h1>You're unsubscribed</h1><p>You won't receive these emails again.</p>"
        "</body></html>"
    )
