"""Shared pieces of the black-box speed benchmarks (bench/dispatch.py, slack_ack.py, ...).

The product is driven only from outside: its CLI (`reviewops ...`), its processes (`serve`,
`worker`) and its HTTP routes. Nothing here imports bot/, handlers/, scheduler/ or store/.
The stand-ins (tests/fakes: Twilio and Slack) run in a child process of the benchmark, so
the benchmark's own client threads do not share a GIL with them. The one place that knows
the schema is `clone_queued`, which copies a request the CLI created (reflected columns,
so it follows the schema wherever the migrations take it).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phonenumbers_timezone
from sqlalchemy import MetaData, create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
REVIEWOPS = str(Path(sys.executable).with_name("reviewops"))
# Where CREATE DATABASE bench4_... is issued from (and the server version read).
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_PREFIX = "bench4_"
TWILIO_SID = "AC" + "b" * 32
TWILIO_TOKEN = "bench-auth-token"  # noqa: S105 - the fake's credentials
TWILIO_FROM = "+15005550006"
SLACK_TOKEN = "xoxb-bench"  # noqa: S105
SLACK_SECRET = "bench-signing-secret"  # noqa: S105
TEAM_ID = "TBENCH"
USER = "U0BENCH"
CHANNEL = "C0BENCH"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- reporting ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def machine(pg_url: str | None = None) -> str:
    """One paragraph: cores, load, Python, SQLite and (when used) PostgreSQL."""
    lines = [
        f"machine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {loadavg()} (1/5/15 min)",
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}",
    ]
    if pg_url:
        engine = create_engine(pg_url)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        lines[-1] += f", postgresql {version}"
    return "\n".join(lines)


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_row(label: str, seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<34} n={len(ms):<5} p50={pct(ms, 50):8.1f}  p95={pct(ms, 95):8.1f}  "
        f"p99={pct(ms, 99):8.1f}  max={max(ms, default=float('nan')):8.1f} ms"
    )


# -- databases ---------------------------------------------------------------------------


def fresh_database(kind: str, name: str, workdir: Path) -> str:
    """An empty database for one run: a new SQLite file, or PostgreSQL bench4_<name> emptied."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    database = PG_PREFIX + name
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    assert make_url(url).database.startswith(PG_PREFIX)  # type: ignore[union-attr]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


# Quiet hours (issue 13): a text reaches its recipient only between 08:00 and 21:00 their
# time, and the benchmarks and the CI-size fault run use the real clock at any hour. So their
# copies text mobiles of a country where it is day now (08:30 to 20:00 local, a margin for
# long runs): one of these three always is.
AWAKE_MOBILES = (
    ("Europe/Paris", "+336", 8, 0),  # zone, prefix, digits after it, lowest value
    ("Asia/Tokyo", "+8190", 8, 10_000_000),  # 090-1xxx-xxxx onwards
    ("America/New_York", "+1212", 7, 2_000_000),  # NANP: a local number starts at 2
)


def awake_phones(first: int, count: int, now: datetime | None = None) -> list[str]:
    """`count` distinct mobile numbers, from `first`, where it is day now.

    Only numbers phonenumbers places in that zone: an unallocated block (`+3369 0…` is not a
    French mobile) has no zone, so its texts would wait for the workspace's hours instead.
    """
    at = now or datetime.now(UTC)
    for zone, prefix, digits, lowest in AWAKE_MOBILES:
        local = at.astimezone(ZoneInfo(zone))
        if (8, 30) <= (local.hour, local.minute) < (20, 0):
            return list(_numbers_in(zone, prefix, digits, lowest, first, count))
    raise RuntimeError(f"no country of AWAKE_MOBILES is awake at {at:%H:%M} UTC")


def _numbers_in(
    zone: str, prefix: str, digits: int, lowest: int, first: int, count: int
) -> Iterator[str]:
    span = 10**digits - lowest
    found = 0
    for i in range(span):
        number = f"{prefix}{lowest + (first + i) % span:0{digits}d}"
        if phonenumbers_timezone.time_zones_for_number(phonenumbers.parse(number)) == (zone,):
            found += 1
            yield number
            if found == count:
                return


def clone_queued(url: str, template_number: int, count: int, *, first_phone: int = 0) -> int:
    """Copy request #template_number (and its contact and message) `count` times, due now.

    Each copy gets its own number, contact, phone (a mobile where it is day now, see
    `awake_phones`) and link token, so every message body is different. Returns the first new
    number.
    """
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine, only=["workspace", "contact", "review_request", "message"])
    ws_t, contact_t = meta.tables["workspace"], meta.tables["contact"]
    req_t, msg_t = meta.tables["review_request"], meta.tables["message"]
    with engine.begin() as conn:
        req = dict(
            conn.execute(select(req_t).where(req_t.c.number == template_number)).one()._mapping
        )
        msg = dict(
            conn.execute(select(msg_t).where(msg_t.c.request_id == req["id"])).one()._mapping
        )
        contact = dict(
            conn.execute(select(contact_t).where(contact_t.c.id == req["contact_id"]))
            .one()
            ._mapping
        )
        aware = req["created_at"].tzinfo is not None
        now = datetime.now(UTC) if aware else datetime.now(UTC).replace(tzinfo=None)
        first = int(conn.execute(select(func.max(req_t.c.number))).scalar() or 0) + 1
        phones = awake_phones(first_phone, count)
        for lo in range(0, count, 2000):
            chunk = range(lo, min(count, lo + 2000))
            conn.execute(
                contact_t.insert(),
                [
                    {**_without_id(contact), "name": f"Bench {first + i}", "phone": phones[i],
                     "email": None, "created_at": now}
                    for i in chunk
                ],
            )  # fmt: skip
            ids = dict(
                conn.execute(
                    select(contact_t.c.phone, contact_t.c.id).where(
                        contact_t.c.phone.in_([phones[i] for i in chunk])
                    )
                ).all()
            )
            conn.execute(
                req_t.insert(),
                [
                    {**_without_id(req), **_no_card(req), "number": first + i,
                     "contact_id": ids[phones[i]],
                     "customer_name": f"Bench {first + i}", "phone": phones[i], "email": None,
                     "created_at": now, "updated_at": now, "scheduled_at": now}
                    for i in chunk
                ],
            )  # fmt: skip
            req_ids = dict(
                conn.execute(
                    select(req_t.c.number, req_t.c.id).where(
                        req_t.c.workspace_id == req["workspace_id"],
                        req_t.c.number >= first + chunk.start,
                        req_t.c.number < first + chunk.stop,
                    )
                ).all()
            )
            conn.execute(
                msg_t.insert(),
                [
                    {**_without_id(msg), "request_id": req_ids[first + i],
                     "to_address": phones[i], "token": secrets.token_urlsafe(18),
                     "due_at": now, "created_at": now, "updated_at": now}
                    for i in chunk
                ],
            )  # fmt: skip
        conn.execute(
            ws_t.update().where(ws_t.c.id == req["workspace_id"]).values(next_number=first + count)
        )
    engine.dispose()
    return first


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "id"}


def _no_card(row: dict[str, Any]) -> dict[str, Any]:
    # A copy must not share the template's Slack card and thread.
    return {k: None for k in ("slack_channel", "slack_ts") if k in row}


def scalar(url: str, sql: str, **params: Any) -> Any:
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text(sql), params).scalar()
    engine.dispose()
    return value


def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        result = [tuple(r) for r in conn.execute(text(sql), params).all()]
    engine.dispose()
    return result


# -- the product's processes -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def product_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a product process: nothing inherited from a .env or the shell.

    The product runs from a temporary directory: PYTHONPATH puts this checkout first, so a
    benchmark run from a git worktree measures that worktree's code, not the checkout the
    shared virtualenv was installed from (an editable install points at one directory).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TWILIO_", "SMTP_", "MAILGUN_", "DATABASE_", "PUBLIC_"))
    }
    paths = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        DATABASE_URL=database_url, DEFAULT_REGION="FR", PYTHONPATH=os.pathsep.join(paths), **extra
    )
    return env


def twilio_env(api_url: str, *, pace: str = "off") -> dict[str, str]:
    """Twilio through the fake. TWILIO_FROM is a US long code, which the product paces at
    1 message/s by default: the benchmarks measure the sending path, so its pace is `off`
    unless the caller (or SENDER_RATES in the shell) says otherwise."""
    return {
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": TWILIO_FROM,
        "TWILIO_API_URL": api_url,
        "SENDER_RATES": os.environ.get("SENDER_RATES", f"{TWILIO_FROM}={pace}"),
    }


def worker_env(database_url: str, twilio_url: str, concurrency: int) -> dict[str, str]:
    """A dispatching worker's environment: Twilio through the fake (unpaced), no public URL
    to reach, `concurrency` sends in flight."""
    return product_env(
        database_url,
        **twilio_env(twilio_url),
        PUBLIC_URL="http://127.0.0.1:9",
        DISPATCH_CONCURRENCY=str(concurrency),
    )


def cli(env: dict[str, str], *args: str, workdir: Path) -> str:
    """Run `reviewops ARGS` and return its stdout; raise with its stderr on failure."""
    done = subprocess.run(
        ["nice", "-n", "19", REVIEWOPS, *args],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reviewops {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


class Product:
    """One `reviewops serve|worker` process (and its children), its output in a log file."""

    def __init__(self, args: Sequence[str], env: dict[str, str], workdir: Path, name: str):
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.name = name
        self.proc = subprocess.Popen(  # noqa: S603
            ["nice", "-n", "19", REVIEWOPS, *args],
            env=env,
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stop_seconds: float | None = None
        self.killed = False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def error_lines(self) -> int:
        """How many ERROR log lines the process wrote so far (a failing listener, a job...)."""
        return sum(" ERROR " in line for line in self.output().splitlines())

    def wait_output(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.output()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no '{needle}' in {timeout} s")
            time.sleep(0.1)

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def stop(self, grace: float = 35.0) -> None:
        """SIGTERM, then SIGKILL after `grace` s (gunicorn's own graceful timeout is 30 s)."""
        if self.proc.poll() is None:
            started = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            self.stop_seconds = time.monotonic() - started
        self._log.close()

    def stop_note(self) -> str:
        if self.killed:
            return f"{self.name}: did NOT stop within {self.stop_seconds:.0f} s of SIGTERM (killed)"
        return f"{self.name}: stopped {self.stop_seconds or 0:.1f} s after SIGTERM"


def seed_template(env: dict[str, str], wd: Path, business_name: str, *settings: str) -> None:
    """Through the CLI: the schema, settings that send at once, and request #1, a template
    queued 30 days ahead that `clone_queued` copies (due now)."""
    cli(env, "db", "upgrade", workdir=wd)
    cli(
        env, "settings", "set", "send_window=always", "region=FR",
        f"business_name={business_name}", "cooldown_days=0", *settings, workdir=wd,
    )  # fmt: skip
    cli(env, "send", "Template", "--phone", "0610000000", "--in", "30d", "--queue-only",
        workdir=wd)  # fmt: skip


def process_tree(root: int) -> list[int]:
    """root and its descendants, from /proc (the `nice` wrapper execs, so root is the product)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one live process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def memory_kib(pids: Sequence[int]) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over pids, from /proc/<pid>/smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, rest = line.partition(":")
            if key == "Rss":
                rss += int(rest.split()[0])
            elif key == "Pss":
                pss += int(rest.split()[0])
    return rss, pss


def wait_http(url: str, timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not answering after {timeout} s")
        time.sleep(0.2)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


# -- the stand-ins, in a child process ---------------------------------------------------


def _fake_host(kind: str, options: dict[str, Any], conn: Any) -> None:
    sys.path.insert(0, str(ROOT))
    os.nice(5)
    if kind == "twilio":
        from tests.fakes.twilio_api import FakeTwilio

        fake: Any = FakeTwilio(TWILIO_SID, TWILIO_TOKEN, **options)
        fake.start()
        conn.send({"url": fake.url})
    else:
        from tests.fakes.slack_api import FakeSlack

        fake = FakeSlack(bot_token=SLACK_TOKEN, team_id=TEAM_ID, team_name="Bench", **options)
        fake.start()
        conn.send({"url": fake.api_url, "base_url": fake.base_url})
    while True:
        name, args, kwargs, repeat = conn.recv()
        if name == "stop":
            break
        try:
            if name.startswith("_"):
                raise AttributeError(name)
            attr = getattr(fake, name)
            if callable(attr):
                result = [attr(*args, **kwargs) for _ in range(repeat)]
                value: Any = result[0] if repeat == 1 else result
            else:
                value = attr
            conn.send(("ok", value))
        except Exception:  # noqa: BLE001  (sent back to the benchmark)
            conn.send(("error", traceback.format_exc()))
    if kind == "twilio":
        fake.stop()
    else:
        fake.close()
    conn.send(("ok", None))


class Fake:
    """A tests/fakes stand-in (kind "twilio" or "slack") served by a child process.

    `fake.call("messages")` reads an attribute; `fake.call("set_status", sid, "delivered")`
    calls a method; `fake.call(name, repeat=100)` calls it 100 times in one round trip.
    """

    def __init__(self, kind: str, **options: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_fake_host, args=(kind, options, child), daemon=True)
        self.process.start()
        info = self._conn.recv()
        self.url: str = info["url"]
        self.base_url: str = info.get("base_url", "")

    def call(self, name: str, /, *args: Any, repeat: int = 1, **kwargs: Any) -> Any:
        self._conn.send((name, args, kwargs, repeat))
        status, value = self._conn.recv()
        if status == "error":
            raise RuntimeError(f"fake: {value}")
        return value

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid or 0)

    def close(self) -> None:
        if self.process.is_alive():
            self._conn.send(("stop", (), {}, 1))
            self._conn.recv()
            self.process.join(10)

    def __enter__(self) -> Fake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- signed requests, as Slack and Twilio send them -------------------------------------


def slack_headers(body: str, secret: str = SLACK_SECRET) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def slash_form(text_: str, response_url: str, trigger_id: str) -> dict[str, str]:
    return {
        "token": "unused",
        "team_id": TEAM_ID,
        "team_domain": "bench",
        "channel_id": CHANNEL,
        "channel_name": "bench",
        "user_id": USER,
        "user_name": "bench",
        "command": "/reviews",
        "text": text_,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def button_payload(
    element: dict[str, Any],
    block_id: str,
    message: dict[str, Any],
    response_url: str,
    trigger_id: str,
) -> str:
    """A block_actions payload for pressing `element` (a button) on a channel message."""
    action = {
        "action_id": element["action_id"],
        "block_id": block_id,
        "type": "button",
        "value": element.get("value"),
        "text": element.get("text", {"type": "plain_text", "text": "x"}),
        "action_ts": f"{time.time():.6f}",
    }
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "bench"},
        "user": {"id": USER, "username": "bench", "team_id": TEAM_ID},
        "api_app_id": "A0001",
        "token": "unused",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": message.get("channel", CHANNEL),
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "channel": {"id": message.get("channel", CHANNEL), "name": "bench"},
        "message": {k: v for k, v in message.items() if k in ("type", "ts", "text", "blocks")},
        "response_url": response_url,
        "actions": [action],
    }
    return json.dumps(payload)


def first_button(message: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The first button in a message's blocks, with its block_id."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "button":
                return element, str(block.get("block_id", ""))
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            return accessory, str(block.get("block_id", ""))
    return None


def twilio_signature(url: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(TWILIO_TOKEN).compute_signature(url, params))


def workdir(name: str) -> Path:
    """A temporary directory for one run: SQLite file and each product process's log."""
    path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    log(f"{name}: database and process logs in {path}")
    return path


class Stack:
    """A fresh database, the fake Slack and Twilio, and `reviewops serve` talking to them.

    The workspace (team TBENCH, from the fake's auth.test) sends always, posts request cards
    to CHANNEL and has no cooldown. Request #1 is a template for `clone`.
    """

    def __init__(
        self, kind: str, name: str, *, twilio_latency: float = 0.0, admin: bool = False
    ) -> None:
        self.wd = workdir(name)
        self.url = fresh_database(kind, name, self.wd)
        self.slack = Fake("slack")
        self.twilio = Fake("twilio", latency=twilio_latency)
        self.slack.call("add_user", USER, is_admin=admin, name="bench", real_name="Bench User")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = product_env(
            self.url,
            **twilio_env(self.twilio.url),
            SLACK_BOT_TOKEN=SLACK_TOKEN,
            SLACK_SIGNING_SECRET=SLACK_SECRET,
            SLACK_API_URL=self.slack.url,
            PORT=str(self.port),
            PUBLIC_URL=self.base,
        )
        seed_template(self.env, self.wd, "Bench", f"notify_channel={CHANNEL}")
        self.processes: list[Product] = []

    def cli(self, *args: str) -> str:
        return cli(self.env, *args, workdir=self.wd)

    def serve(self) -> Product:
        server = Product(["serve"], self.env, self.wd, "serve")
        self.processes.append(server)
        wait_http(f"{self.base}/healthz")
        return server

    def worker(self) -> Product:
        worker = Product(["worker"], self.env, self.wd, f"worker{len(self.processes)}")
        self.processes.append(worker)
        worker.wait_output("worker running")
        return worker

    def clone(self, count: int, first_phone: int = 0) -> int:
        return clone_queued(self.url, 1, count, first_phone=first_phone)

    def sent_count(self) -> int:
        return len(self.twilio.call("messages"))

    def slack_answers(self) -> int:
        """Answers the product gave users: response_url posts, ephemerals and opened views."""
        return sum(len(self.slack.call(name)) for name in ("responses", "ephemerals", "views"))

    def close(self) -> list[str]:
        """Stop everything; return notes on slow stops and ERROR lines in the processes' logs."""
        for p in self.processes:
            p.stop()
        notes = [p.stop_note() for p in self.processes if p.killed or (p.stop_seconds or 0) > 5]
        notes += [
            f"{p.name}: {n} ERROR lines in {p.log_path}"
            for p in self.processes
            if (n := p.error_lines())
        ]
        self.slack.close()
        self.twilio.close()
        return notes


def fire(
    send: Callable[[Any, int], Any], total: int, concurrency: int
) -> tuple[list[float], Counter[int], float]:
    """Run send(session, i) for i in range(total) from `concurrency` threads, each with its
    own requests.Session; return the latencies (s), the HTTP statuses and the wall time."""
    import threading

    import requests

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                status = send(session, i).status_code
            except requests.RequestException:
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1
        session.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - started
