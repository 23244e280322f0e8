"""`serve`: gunicorn worker processes (threads each) answering Slack and webhooks.

gunicorn's arbiter (`bot/supervisor.py`) also forks the scheduler process, so sending never
holds the GIL of a process that answers Slack. Flask, Bolt and the listeners are imported,
and the web app built, here in the arbiter before it forks its workers (`preload_app`): they
share those pages instead of each writing its own copy while building the app (issue 11's
idle memory). A worker's app has no senders and starts no scheduler; a request that becomes
due wakes the scheduler process through the wake pipe (`bot/wake.py`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from slack_bolt.adapter.flask import SlackRequestHandler  # noqa: F401  (shared, as above)

# Loaded here, before gunicorn forks its workers, so that they share these pages: a worker's
# app needs them once Slack is configured (bot/app.py imports them on demand).
import handlers.outbox_writer  # noqa: F401
import scheduler.outbox  # noqa: F401
from bot import api
from bot.app import ReviewOpsApp, create_app
from bot.http_limits import BodyLimit
from bot.log_redaction import RedactingLogger, redact_handlers
from bot.settings import Settings
from bot.slack import NOT_CONFIGURED, install_slack, slack_ready
from bot.supervisor import ServeArbiter, settle_heap
from bot.wake import WakePipe
from bot.web import blueprint

log = logging.getLogger(__name__)

GRACEFUL_SECONDS = 20  # in-flight HTTP requests finish within it on SIGTERM


def create_flask(app: ReviewOpsApp) -> Flask:
    """Build the Flask app serving bot/web.py's routes and, when installed, /slack/events."""
    flask_app = Flask("reviewops")
    flask_app.register_blueprint(blueprint(app))
    api.install(flask_app, app)  # /api/v1 and /api/openapi.json
    for hook in app.flask_hooks:
        hook(flask_app)
    # Every body is bounded by its route's maximum before Flask or Bolt reads any of it.
    flask_app.wsgi_app = BodyLimit(flask_app.wsgi_app)  # type: ignore[method-assign]
    return flask_app


def web_workers(settings: Settings, *, socket_mode: bool = False) -> int:
    """Size the web tier: WEB_CONCURRENCY, else a process per core but the scheduler's.

    Socket Mode: one (one connection to Slack, as in development).
    """
    if socket_mode:
        return 1
    return settings.web_concurrency or max(1, (os.cpu_count() or 1) - 1)


def gunicorn_settings(settings: Settings, *, socket_mode: bool) -> dict[str, Any]:
    """Return gunicorn's settings for the web tier (the hooks are added by `serve`)."""
    return {
        "bind": f"0.0.0.0:{settings.port}",  # noqa: S104  (a server listens on all interfaces)
        "workers": web_workers(settings, socket_mode=socket_mode),
        "worker_class": "gthread",
        "threads": settings.web_threads,
        "timeout": 60,
        "graceful_timeout": GRACEFUL_SECONDS,
        "accesslog": "-",
        # Link tokens and OAuth code/state never reach the access log.
        "logger_class": RedactingLogger,
        # The app is built once, in the arbiter, and shared by the workers it forks.
        "preload_app": True,
        "pre_fork": _before_fork,
        "post_fork": _in_web_worker,
    }


def _before_fork(_arbiter: Any, _worker: Any) -> None:
    settle_heap()


def _in_web_worker(_arbiter: Any, _worker: Any) -> None:
    # Acks wait on I/O and need the GIL back quickly while a page is being built: hand it
    # over every 1 ms instead of 5 (in the web workers only, not the arbiter or scheduler).
    sys.setswitchinterval(0.001)


def serve(
    settings: Settings,
    *,
    scheduler: Callable[[], int],
    socket_mode: bool = False,
    wake: WakePipe | None = None,
) -> None:
    """Serve HTTP until SIGTERM: gunicorn's arbiter here, its workers and `scheduler` forked."""
    slack = not socket_mode and slack_ready(settings)
    if not socket_mode and not slack:
        log.warning(NOT_CONFIGURED)  # once, here, not in every worker
    holder: dict[str, ReviewOpsApp] = {}

    def post_worker_init(worker: Any) -> None:
        # Our records and gunicorn's error log: no link token or OAuth secret in any line.
        redact_handlers(logging.getLogger(), worker.log.error_log)
        if socket_mode:
            from bot.slack import connect_socket_mode

            connect_socket_mode(holder["app"])

    def worker_exit(_server: Any, _worker: Any) -> None:
        if "app" in holder:
            holder["app"].close()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            assert self.cfg is not None
            for key, value in gunicorn_settings(settings, socket_mode=socket_mode).items():
                self.cfg.set(key, value)
            self.cfg.set("post_worker_init", post_worker_init)
            self.cfg.set("worker_exit", worker_exit)

        def run(self) -> None:
            ServeArbiter(self, scheduler).run()

        def load(self) -> Flask:
            # Called once, in the arbiter, before any fork (preload_app).
            # The web tier never sends: no senders (no provider SDK loaded), no scheduler.
            app = create_app(settings, senders={})
            if wake is not None:
                app.ops.set_wake(wake.waker())
            holder["app"] = app
            if slack:
                install_slack(app)  # /slack/events
            flask_app = create_flask(app)
            app.db.before_fork()
            log.info("web app built in the arbiter (pid %d), shared by its workers", os.getpid())
            return flask_app

    Server().run()
