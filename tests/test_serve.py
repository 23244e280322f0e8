"""`reviewops serve` for real: gunicorn in a child process, Slack at /slack/events, the scheduler.

The child talks to the fake Slack in this process over loopback, so a /reviews command goes
through gunicorn, Bolt's signature check and the listener, and the request it creates is sent
by the child's own scheduler and posted to Slack by its outbox job.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import text
from sqlmodel import SQLModel

from bench.speedkit import awake_phones
from bot.supervisor import SCHEDULER_NICENESS, fork
from store.db import Database
from tests.fakes.slack_api import FakeSlack
from tests.slack_harness import CHANNEL, SIGNING_SECRET, TEAM_ID, USER, sign, text_of

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(tmp_path: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Run `python -m bot serve` until its /healthz answers; stop it with SIGTERM."""
    port = _free_port()
    log = tmp_path / "serve.log"
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_", "SMTP_"))
    }
    child_env = base_env | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "PORT": str(port),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DEFAULT_REGION": "FR",
        # The child runs this checkout's code, wherever the virtualenv was installed from.
        "PYTHONPATH": str(ROOT),
        **env,
    }
    with log.open("wb") as out:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bot", "serve"],
            cwd=tmp_path,
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet, or still loading on a busy machine
            if child.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("serve did not start:\n" + log.read_text())
            time.sleep(0.2)  # polling a child process's start-up, not a schedule
        yield url, child, log
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _awake_phone() -> str:
    """A mobile whose owner is inside the law's hours now: the children use the real clock."""
    return awake_phones(610203040, 1)[0]


def _sent_line(phone: str) -> str:
    return f"--- console SMS to {phone}"  # what the console sender prints when it sends


def _command(url: str, fake: FakeSlack, text: str) -> str:
    """Send a signed /reviews command; return its response_url once answered."""
    body, headers, response_url = _signed_command(fake, text)
    answer = requests.post(f"{url}/slack/events", data=body, headers=headers, timeout=10)
    assert answer.status_code == 200
    assert fake.wait_for(lambda: any(r["url"] == response_url for r in fake.responses), 20)
    return response_url


def _pids(log: Path, pattern: str) -> list[int]:
    return [int(p) for p in re.findall(pattern, log.read_text())]


def _running(pid: int) -> bool:
    """Say whether a process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(predicate: object, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what}:\n" + log.read_text())
        time.sleep(0.2)  # polling a child process's progress, not a schedule


def _signed_command(fake: FakeSlack, text: str) -> tuple[bytes, dict[str, str], str]:
    response_url = fake.new_response_url()
    body = urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": USER,
            "user_name": "alice",
            "command": "/reviews",
            "text": text,
            "api_app_id": fake.app_id,
            "response_url": response_url,
            "trigger_id": fake.issue_trigger_id(),
        }
    )
    ts = int(time.time())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
    }
    return body.encode(), headers, response_url


@pytest.mark.timeout(180)
def test_serve_answers_slack_and_its_scheduler_sends_and_posts_the_thread(
    tmp_path: Path,
) -> None:
    with FakeSlack() as fake:
        fake.add_user(USER, name="alice", real_name="Alice Martin", is_admin=True)
        env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        with serving(tmp_path, **env) as (url, _child, log):
            _command(url, fake, "settings set send_window=always")  # due now, whatever the hour
            phone = _awake_phone()
            body, headers, response_url = _signed_command(fake, f"send Jane Doe {phone}")
            answer = requests.post(f"{url}/slack/events", data=body, headers=headers, timeout=10)
            assert answer.status_code == 200

            forged = dict(headers, **{"X-Slack-Signature": "v0=" + "0" * 64})
            assert (
                requests.post(
                    f"{url}/slack/events", data=body, headers=forged, timeout=10
                ).status_code
                == 401
            )

            def replied() -> bool:
                return any(r["url"] == response_url for r in fake.responses)

            assert fake.wait_for(replied, timeout=20), log.read_text()
            reply = next(r for r in fake.responses if r["url"] == response_url)
            assert "#1" in text_of(reply)

            # The child's scheduler sends it (console sender) and its outbox posts the card.
            def card() -> list[dict[str, object]]:
                return fake.messages(CHANNEL)  # roots only, each with its replies

            assert fake.wait_for(card, timeout=30), log.read_text()
            root = card()[0]
            assert "#1" in text_of(root)
            assert phone not in str(root) and phone[-6:-2] not in str(root)  # masked
            web = _child.pid  # gunicorn's arbiter, parent of the workers and the scheduler
            (scheduler,) = _pids(log, r"scheduler process started \(pid (\d+)\)")
            workers = _pids(log, r"Booting worker with pid: (\d+)")
            assert workers and scheduler not in [web, *workers]
            assert all(_running(pid) for pid in [web, scheduler, *workers])
            # Slack answers first: the scheduler yields the CPU to the web workers.
            base = os.getpriority(os.PRIO_PROCESS, web)
            assert os.getpriority(os.PRIO_PROCESS, scheduler) == base + SCHEDULER_NICENESS
            assert all(os.getpriority(os.PRIO_PROCESS, pid) == base for pid in workers)
    output = log.read_text()
    assert "senders: SMS=console" in output
    assert _sent_line(phone) in output  # the console sender, in the scheduler process, sent it
    assert "scheduler running" in output and "scheduler stopping" in output
    # SIGTERM stopped the whole tree within the grace, cleanly.
    assert _child.returncode == 0, output
    assert not any(_running(pid) for pid in [web, scheduler, *workers])


@pytest.mark.timeout(180)
def test_a_scheduler_process_that_dies_is_restarted_and_sends_what_slack_asked(
    tmp_path: Path,
) -> None:
    with FakeSlack() as fake:
        fake.add_user(USER, name="alice", real_name="Alice Martin", is_admin=True)
        env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "WEB_CONCURRENCY": "2",
        }
        with serving(tmp_path, **env) as (url, child, log):
            started = r"scheduler process started \(pid (\d+)\)"
            _wait_for(lambda: "scheduler running" in log.read_text(), "scheduler", log)
            (first,) = _pids(log, started)
            os.kill(first, signal.SIGKILL)
            _wait_for(lambda: len(_pids(log, started)) == 2, "restarted scheduler", log)
            second = _pids(log, started)[1]
            assert second != first and _running(second) and child.poll() is None
            assert len(_pids(log, r"Booting worker with pid: (\d+)")) == 2  # WEB_CONCURRENCY
            # Built once, in the arbiter: the workers and both schedulers share its pages.
            assert _pids(log, r"web app built in the arbiter \(pid (\d+)\)") == [child.pid]

            _command(url, fake, "settings set send_window=always")
            phone = _awake_phone()
            _command(url, fake, f"send Jane Doe {phone}")
            sent = _sent_line(phone)
            _wait_for(lambda: sent in log.read_text(), "SMS from the new scheduler", log)
            assert fake.wait_for(lambda: fake.messages(CHANNEL), timeout=30), log.read_text()
        assert child.returncode == 0, log.read_text()


@pytest.mark.timeout(120)
def test_a_killed_serve_leaves_no_scheduler_or_web_worker_behind(tmp_path: Path) -> None:
    with serving(tmp_path) as (_url, child, log):
        _wait_for(lambda: "scheduler running" in log.read_text(), "scheduler", log)
        (scheduler,) = _pids(log, r"scheduler process started \(pid (\d+)\)")
        workers = _pids(log, r"Booting worker with pid: (\d+)")
        child.kill()  # no graceful stop: the children must notice on their own
        child.wait()
        _wait_for(
            lambda: not any(_running(pid) for pid in [scheduler, *workers]), "orphans gone", log
        )
    assert "the scheduler stops" in log.read_text()


@pytest.mark.timeout(120)
def test_serve_without_slack_still_runs_and_says_what_to_set(tmp_path: Path) -> None:
    with serving(tmp_path) as (url, _child, log):
        assert requests.post(f"{url}/slack/events", data=b"x", timeout=5).status_code == 404
        assert requests.get(f"{url}/metrics", timeout=5).status_code == 200
    lines = [line for line in log.read_text().splitlines() if "Slack is off" in line]
    assert len(lines) == 1
    assert "SLACK_BOT_TOKEN" in lines[0]


def test_socket_mode_without_app_token_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'socket.db'}"
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bot", "serve", "--socket-mode"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "SLACK_APP_TOKEN" in done.stderr


def test_the_scheduler_process_is_forked_with_the_arbiters_objects_frozen() -> None:
    """Its collections never visit (and so never copy) the pages it shares with the arbiter."""
    sys.stdout.flush()
    sys.stderr.flush()
    gc.unfreeze()
    try:
        child = fork("probe", lambda: 0 if gc.get_freeze_count() > 0 else 3)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        gc.unfreeze()


def test_the_arbiters_database_has_no_connection_and_configured_mappers_when_it_forks(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        with db.read() as session:
            session.execute(text("SELECT 1"))
        assert db.engine.pool.checkedin() == 1  # type: ignore[attr-defined]
        db.before_fork()
        # A child opens its own connections and never configures the mappers again.
        assert db.engine.pool.checkedin() == 0  # type: ignore[attr-defined]
        assert all(mapper.configured for mapper in SQLModel._sa_registry.mappers)
    finally:
        db.dispose()
