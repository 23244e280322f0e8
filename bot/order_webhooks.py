"""Order triggers over HTTP: `POST /webhooks/shopify/<TEAM_ID>` and `/webhooks/stripe/<TEAM_ID>`.

Each route finds the workspace (known, and installed where workspaces install by OAuth),
checks the shop's signature on the raw body with the workspace's secret (Shopify's HMAC; the
`stripe` library's check, with its 5-minute timestamp tolerance), reads the event and hands it
to `bot.usecases.orders`. Applied before the answer: one request or one cancel is a few
milliseconds, well inside the shops' timeouts, and an error answers a short 5xx text so the
shop retries. An unknown workspace, a workspace without the shop's secret and a wrong
signature are answered alike (401 "invalid signature": a caller without the secret learns
nothing of which workspaces exist); the log says which it was.
The body is at most bot/http_limits.py's maximum for these routes, read before this runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from bot.app import ReviewOpsApp
from bot.delivery import shopify_orders, stripe_orders
from bot.domain.orders import OrderEvent, UnreadableOrder, provider_id
from bot.domain.policy import WorkspacePolicy
from bot.usecases.setting_secrets import SettingSecrets
from store.installations import TokenKeyError

log = logging.getLogger(__name__)

TEAM_ID_MAX = 32
# Stripe's own default: a signed event older than this is a replay.
STRIPE_TOLERANCE_SECONDS = 300


# Reads a shop's delivery with the workspace's settings, opening its secret to check it.
Reader = Callable[[WorkspacePolicy, bytes, SettingSecrets], Any]
INVALID_SIGNATURE = "invalid signature"
FAILED = "could not take the event now: retry later"


class Refused(Exception):  # noqa: N818  (an HTTP answer, not a failure of ours)
    """Answer the shop with this status and short reason; nothing was done. `detail`, for the
    log only, says more than the caller may learn."""

    def __init__(self, status: int, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail or reason


def _unsigned(detail: str) -> Refused:
    """The one refusal for a caller who can't prove it holds the workspace's secret."""
    return Refused(401, INVALID_SIGNATURE, detail)


def register_order_webhooks(target: Blueprint | Flask, app: ReviewOpsApp) -> None:
    """Add the Shopify and Stripe order trigger routes."""
    oauth = app.settings.oauth_installs

    def workspace(team_id: str) -> int | None:
        if not team_id or len(team_id) > TEAM_ID_MAX:
            return None
        if oauth:  # installed by OAuth: an uninstalled workspace has no bot token
            return app.ops.workspaces.installed_workspace(team_id, configured_team=None)
        found = app.ops.workspaces.find_workspace(team_id)
        return found.id if found is not None else None

    def handle(source: str, team_id: str, read: Reader) -> Any:
        try:
            return apply(source, team_id, read)
        except Exception as exc:  # noqa: BLE001 (any error of ours: the shop retries)
            # The type only: an error's words may quote the order (names, phones, emails); a
            # key's error names the setting no key opens, never its value.
            said = str(exc) if isinstance(exc, TokenKeyError) else type(exc).__name__
            app.metrics.webhooks.labels(source, "failed").inc()
            log.error("%s order webhook failed: %s", source, said)
            return Response(f"{FAILED}\n", status=503, mimetype="text/plain")

    def apply(source: str, team_id: str, read: Reader) -> Any:
        counted = app.metrics.webhooks.labels
        try:
            workspace_id = workspace(team_id)
            if workspace_id is None:
                raise _unsigned("unknown or uninstalled workspace")
            policy = app.ops.policy(workspace_id)
            event = read(policy, request.get_data(), app.ops.secrets)
        except Refused as refused:
            counted(source, "refused").inc()
            log.warning("refused a %s order webhook: %s", source, refused.detail)
            return Response(f"{refused.reason}\n", status=refused.status, mimetype="text/plain")
        counted(source, "accepted").inc()
        if event is None:
            return jsonify(outcome="trigger off")
        done = app.ops.orders.receive(workspace_id, event)
        log.info("%s event %s: %s %s", source, event.event_id, done.outcome, done.numbers or "")
        return jsonify(outcome=done.outcome, requests=list(done.numbers))

    @target.post("/webhooks/shopify/<team_id>")
    def shopify_webhook(team_id: str) -> Any:
        return handle("shopify", team_id, _read_shopify)

    @target.post("/webhooks/stripe/<team_id>")
    def stripe_webhook(team_id: str) -> Any:
        return handle("stripe", team_id, _read_stripe)


def _read_shopify(
    policy: WorkspacePolicy, body: bytes, secrets: SettingSecrets
) -> OrderEvent | None:
    """Verify and read a Shopify delivery; None when the trigger is off.

    :raise Refused: no secret, a wrong signature, or not a Shopify event.
    :raise TokenKeyError: the secret is sealed and no key opens it (an error of ours).
    """
    if not policy.shopify_secret:
        raise _unsigned("no Shopify secret is set for this workspace")
    secret = secrets.open(policy.shopify_secret, "shopify_secret")
    given = request.headers.get("X-Shopify-Hmac-Sha256", "")
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(digest), given.encode("latin-1", "replace")):
        raise _unsigned("the signature does not match")
    if not policy.shopify_orders:
        return None
    # Shopify sends a retry with the event's id unchanged (X-Shopify-Event-Id, newer) and the
    # webhook's id unchanged (X-Shopify-Webhook-Id).
    event_id = provider_id(
        request.headers.get("X-Shopify-Event-Id") or request.headers.get("X-Shopify-Webhook-Id")
    )
    topic = request.headers.get("X-Shopify-Topic", "")
    if event_id is None or not topic:
        raise Refused(400, "missing X-Shopify-Webhook-Id or X-Shopify-Topic")
    try:
        return shopify_orders.order_event(topic, event_id, _json(body))
    except UnreadableOrder as exc:
        raise Refused(400, str(exc)) from exc


def _read_stripe(
    policy: WorkspacePolicy, body: bytes, secrets: SettingSecrets
) -> OrderEvent | None:
    """Verify and read a Stripe event; None when the trigger is off.

    :raise Refused: no secret, a wrong or stale signature, or not a Stripe event.
    :raise TokenKeyError: the secret is sealed and no key opens it (an error of ours).
    """
    if not policy.stripe_secret:
        raise _unsigned("no Stripe secret is set for this workspace")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:  # Stripe signs UTF-8 JSON: no signature can match
        raise _unsigned("the body is not UTF-8") from exc
    header = request.headers.get("Stripe-Signature")
    if not header:
        raise _unsigned("no Stripe-Signature header")
    # Imported at the first Stripe event: the library (and the aiohttp it loads) would add
    # some 15 MB to every idle web worker of a workspace that never uses Stripe.
    import stripe

    secret = secrets.open(policy.stripe_secret, "stripe_secret")
    try:
        stripe.WebhookSignature.verify_header(
            text, header, secret, tolerance=STRIPE_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        # Stripe checks the timestamp only once a signature matched: "too old" tells nothing.
        if "tolerance" in str(exc):
            raise Refused(401, "signature too old") from exc
        raise _unsigned("the signature does not match") from exc
    if not policy.stripe_orders:
        return None
    try:
        return stripe_orders.order_event(_json(body))
    except UnreadableOrder as exc:
        raise Refused(400, str(exc)) from exc


def _json(body: bytes) -> Any:
    """The body as JSON (it is already bounded by bot/http_limits.py).

    :raise UnreadableOrder: not JSON.
    """
    try:
        return json.loads(body)
    except ValueError as exc:
        raise UnreadableOrder("body is not JSON") from exc
