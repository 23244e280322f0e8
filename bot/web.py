"""Non-Slack HTTP routes: webhooks, tracked links, unsubscribe, health and metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.app import ReviewOpsApp
from bot.health import check_health
from bot.order_webhooks import register_order_webhooks
from bot.webhooks import register_webhooks


def blueprint(app: ReviewOpsApp) -> Blueprint:
    """Build the routes of bot/web.py bound to one wired app."""
    web = Blueprint("reviewops_web", __name__)

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        # 503 takes the process out of a load balancer; the body says which dependency failed.
        health = check_health(app.db, app.clock.now())
        return jsonify(health.as_json()), 503 if health.failing else 200

    @web.get("/metrics")
    def metrics() -> Response:
        # The full header as Prometheus gives it: `mimetype=` would append a second charset.
        body = generate_latest(app.metrics.registry)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    register_webhooks(
        web,
        app,
        twilio_auth_token=app.settings.twilio_auth_token,
        mailgun_signing_key=app.settings.mailgun_signing_key,
        public_url=app.settings.public_url,
    )
    register_order_webhooks(web, app)
    return web
