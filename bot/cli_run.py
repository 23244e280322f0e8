"""`reviewops serve`, `worker` and `db upgrade`: run reviewops and keep its schema current."""

from __future__ import annotations

import atexit
import glob
import logging
import os
import shutil
import tempfile
from typing import Annotated

import typer

from bot import metrics
from bot.cli import cli, database_reached, db_cli, fail, load_settings
from bot.scheduler_process import run_scheduler
from bot.settings import Settings
from bot.wake import WakePipe
from store import db as store_db

log = logging.getLogger(__name__)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version; say which migrations it applied."""
    settings = load_settings()
    with database_reached():
        applied = store_db.upgrade(settings.database_url)
    typer.echo(upgrade_line(applied) or "database is up to date")


def upgrade_line(applied: list[str]) -> str | None:
    """Say which migrations an upgrade applied ("applied 0001 → 0011"); None: none."""
    if not applied:
        return None
    span = applied[0] if len(applied) == 1 else f"{applied[0]} → {applied[-1]}"
    return f"database upgraded: applied {span}"


def _upgrade(settings: Settings) -> None:
    with database_reached():
        line = upgrade_line(store_db.upgrade(settings.database_url))
    if line:
        log.info(line)


@cli.command()
def worker() -> None:
    """Run the scheduler only: dispatch, reaper and Slack outbox."""
    settings = load_settings(service=True)
    typer.echo(settings.senders_line())
    _upgrade(settings)
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
    settings = load_settings(service=True)
    if socket_mode and not (settings.slack_app_token and settings.slack_bot_token):
        fail("Socket Mode needs SLACK_APP_TOKEN (xapp-...) and SLACK_BOT_TOKEN.")
    typer.echo(settings.senders_line())
    _upgrade(settings)
    shared_metrics(settings)
    wake = WakePipe()
    arbiter = os.getpid()  # gunicorn's arbiter runs in this process

    def scheduler() -> int:
        return run_scheduler(settings, name="scheduler", wake=wake, parent=arbiter)

    # Imported here: the web stack loads only for the command that serves it.
    from bot.server import serve as run_server

    run_server(settings, scheduler=scheduler, socket_mode=socket_mode, wake=wake)


def shared_metrics(settings: Settings) -> None:
    """Count in files every process of `serve` shares, so /metrics sums them all.

    PROMETHEUS_MULTIPROC_DIR names the directory (emptied here: counts start at zero with the
    server); without it a fresh temporary one is made and removed at exit.
    """
    path = settings.prometheus_multiproc_dir
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="reviewops-metrics-")
        arbiter, made = os.getpid(), path

        def remove() -> None:
            # Only the arbiter: gunicorn's workers leave by sys.exit and run exit handlers too.
            if os.getpid() == arbiter:
                shutil.rmtree(made, ignore_errors=True)

        atexit.register(remove)
    # prometheus_client reads the variable in each process where it first counts.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    metrics.multiprocess(path)
