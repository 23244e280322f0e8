"""Run the HTTP surface on gunicorn (threads) with the scheduler inside the serving process."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from bot.app import ReviewOpsApp, create_app
from bot.settings import Settings
from bot.slack import install_slack
from bot.web import blueprint

log = logging.getLogger(__name__)


def create_flask(app: ReviewOpsApp) -> Flask:
    """Build the Flask app serving bot/web.py's routes and, when installed, /slack/events."""
    flask_app = Flask("reviewops")
    flask_app.register_blueprint(blueprint(app))
    for hook in app.flask_hooks:
        hook(flask_app)
    return flask_app


def serve(settings: Settings, *, socket_mode: bool = False) -> None:
    """Serve until stopped: one gunicorn worker process with threads, and its scheduler."""
    from gunicorn.app.base import BaseApplication

    holder: dict[str, ReviewOpsApp] = {}

    def post_worker_init(_worker: Any) -> None:
        # The scheduler (and the Socket Mode connection) live in the serving worker: forked
        # processes don't inherit threads.
        app = holder["app"]
        app.start_scheduler()
        if socket_mode:
            from bot.slack import connect_socket_mode

            connect_socket_mode(app)

    def worker_exit(_server: Any, _worker: Any) -> None:
        if "app" in holder:
            holder["app"].close()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            assert self.cfg is not None
            for key, value in {
                "bind": f"0.0.0.0:{settings.port}",  # noqa: S104  (a server listens on all interfaces)
                "workers": 1,
                "worker_class": "gthread",
                "threads": 8,
                "timeout": 60,
                "accesslog": "-",
                "post_worker_init": post_worker_init,
                "worker_exit": worker_exit,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            app = create_app(settings)
            holder["app"] = app
            if not socket_mode:
                install_slack(app)  # /slack/events, or one line saying what to set
            return create_flask(app)

    Server().run()
