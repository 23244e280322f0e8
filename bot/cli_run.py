"""`reviewops serve`, `worker` and `db upgrade`: run reviewops and keep its schema current."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from bot.cli import cli, db_cli, fail, load_settings
from bot.scheduler_process import run_scheduler
from bot.wake import WakePipe
from store import db as store_db

log = logging.getLogger(__name__)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version."""
    settings = load_settings()
    store_db.upgrade(settings.database_url)
    typer.echo("database is up to date")


@cli.command()
def worker() -> None:
    """Run the scheduler only: dispatch, reaper and Slack outbox."""
    _setup_logging()
    settings = load_settings()
    store_db.upgrade(settings.database_url)
    typer.echo(settings.senders_line())
    if run_scheduler(settings) != 0:
        # A job thread is still running: leave without waiting for it.
        logging.shutdown()
        os._exit(1)


@cli.command()
def serve(
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Talk to Slack over Socket Mode (development).")
    ] = False,
) -> None:
    """Serve Slack, webhooks, tracked links and health, and run the scheduler beside them."""
    _setup_logging()
    settings = load_settings()
    if socket_mode and not (settings.slack_app_token and settings.slack_bot_token):
        fail("Socket Mode needs SLACK_APP_TOKEN (xapp-...) and SLACK_BOT_TOKEN.")
    store_db.upgrade(settings.database_url)
    typer.echo(settings.senders_line())
    wake = WakePipe()
    arbiter = os.getpid()  # gunicorn's arbiter runs in this process

    def scheduler() -> int:
        return run_scheduler(settings, name="scheduler", wake=wake, parent=arbiter)

    # Imported here: the web stack loads only for the command that serves it.
    from bot.server import serve as run_server

    run_server(settings, scheduler=scheduler, socket_mode=socket_mode, wake=wake)


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The twilio SDK logs every request and response (11 lines, headers included) at INFO:
    # CPU on every send and noise in the log; its warnings and errors still show.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
