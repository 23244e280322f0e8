"""Seed a migrated database with a large, realistic history, fast (bulk inserts / COPY).

Rows are generated deterministically (seeded random) in batches, so memory stays flat and
SQLite and PostgreSQL get the same data. The schema comes from the real migrations, so the
FTS5 triggers and every index are maintained while loading, as they would be in production.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

from store import db as store_db

TEAM_ID = "TBENCH"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=730)  # two years of history
BATCH = 20_000
USERS = [f"U{n:04d}BENCH" for n in range(25)]
USER_WEIGHTS = [30, 20, 12, 8, 6] + [1] * 20

FIRST = (
    "Jean Marie Camille Louis Léa Emma Hugo Lucas Chloé Manon Inès Jules Adam Nathan Sarah "
    "Alice Paul Zoé Anna Elsa Oscar Liam Noah Olivia Mia Ella Maja Astrid Erik Lars Karin "
    "Sven Ingrid Johan Linnea James Mary John Patricia Robert Jennifer Michael Linda David "
    "Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Karen Charles Nancy "
    "Daniel Lisa Matthew Betty Anthony Sandra Mark Ashley"
).split()
LAST = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Mercier "
    "Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc Guerin "
    "Muller Henry Roussel Nicolas Perrin Andersson Johansson Karlsson Nilsson Eriksson "
    "Larsson Olsson Persson Svensson Gustafsson Pettersson Jonsson Smith Johnson Williams "
    "Brown Jones Miller Davis Wilson Anderson Taylor Moore Jackson White Harris Clark Lewis "
    "Walker Hall Allen Young King Wright Scott Green Baker Adams Nelson Hill Campbell"
).split()
DOMAINS = ("gmail.com", "outlook.fr", "yahoo.com", "orange.fr", "free.fr", "icloud.com")

# (status, weight, reached sent, delivered, opened, clicked)
STATUSES = (
    ("delivered", 34, True, True, False, False),
    ("sent", 12, True, False, False, False),
    ("read", 3, True, True, False, False),
    ("opened", 9, True, True, True, False),
    ("clicked", 11, True, True, True, True),
    ("failed", 3, False, False, False, False),
    ("undelivered", 1, True, False, False, False),
    ("unknown", 0.2, False, False, False, False),
    ("complained", 0.1, True, True, False, False),
    ("unsubscribed", 0.7, True, True, False, False),
    ("canceled", 2, False, False, False, False),
    ("paused", 0.5, False, False, False, False),
    ("queued", 3, False, False, False, False),
)
CHANNELS = (("sms", 55), ("email", 25), ("whatsapp", 8), ("sms+email", 12))
METHOD_OF = {"sms": "sms", "email": "email", "whatsapp": "whatsapp", "sms+email": "sms_and_email"}


def strip_accents(text: str) -> str:
    import unicodedata

    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).lower()


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    phone: str | None
    email: str | None


def customer(i: int) -> Customer:
    """Return contact number i (1-based), the same on every run."""
    rnd = random.Random(i * 2654435761)
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    kind = rnd.random()
    # Distinct French mobiles: multiplying by a number coprime with 10**8 is a bijection.
    phone = f"+336{(i * 7919 + 12_345_678) % 100_000_000:08d}" if kind < 0.85 else None
    email = (
        f"{strip_accents(first)}.{strip_accents(last)}{i}@{rnd.choice(DOMAINS)}"
        if kind > 0.55 or phone is None
        else None
    )
    return Customer(i, f"{first} {last}", phone, email)


def customers_for(rows: int) -> int:
    return max(1, rows // 4)  # about four requests per customer


@dataclass
class Batch:
    requests: list[tuple[Any, ...]]
    messages: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


REQUEST_COLUMNS = (
    "id workspace_id number contact_id customer_name phone email language method channel "
    "review_type reference status created_by created_by_name created_at updated_at "
    "scheduled_at sent_at delivered_at opened_at clicked_at retries last_error slack_channel "
    "slack_ts origin_channel deleted_at"
).split()
MESSAGE_COLUMNS = (
    "id workspace_id request_id kind channel to_address status due_at token claim_token "
    "lease_until attempts sent_at delivered_at read_at opened_at clicked_at failed_at provider "
    "provider_id error_code error_reason subject body created_at updated_at"
).split()
EVENT_COLUMNS = "id workspace_id request_id message_id kind actor at detail dedup_key".split()
CONTACT_COLUMNS = "id workspace_id name phone email language phone_opted_out_at email_opted_out_at created_at".split()


def generate(rows: int, workspace_id: int) -> Iterator[Batch]:
    """Yield the history in batches: requests oldest first, ids increasing with created_at."""
    rnd = random.Random(42)
    statuses = [s for s, *_ in STATUSES]
    status_weights = [w for _, w, *_ in STATUSES]
    flags = {s: rest for s, _, *rest in STATUSES}
    channels = [c for c, _ in CHANNELS]
    channel_weights = [w for _, w in CHANNELS]
    n_customers = customers_for(rows)
    start = NOW - SPAN
    step = SPAN.total_seconds() / rows
    message_id = event_id = 0
    batch = Batch([], [], [])
    for rid in range(1, rows + 1):
        # Five-minute buckets, so several requests share a created_at: keyset ties are real.
        created = start + timedelta(seconds=int(rid * step) // 300 * 300)
        c = customer(rnd.randint(1, n_customers))
        channel = rnd.choices(channels, channel_weights)[0]
        if c.phone is None:
            channel = "email"
        elif c.email is None and channel in ("email", "sms+email"):
            channel = "sms"
        status = rnd.choices(statuses, status_weights)[0]
        if created > NOW - timedelta(days=2) and rnd.random() < 0.5:
            status = "queued"
        reached_sent, delivered, opened, clicked = flags[status]
        sent_at = created + timedelta(seconds=rnd.choice((0, 60, 3600, 86400, 3 * 86400)))
        sent_at = sent_at if reached_sent or status in ("failed", "unknown") else None
        delivered_at = sent_at + timedelta(seconds=5) if delivered and sent_at else None
        opened_at = sent_at + timedelta(hours=2) if opened and sent_at else None
        clicked_at = sent_at + timedelta(hours=3) if clicked and sent_at else None
        retries = 1 if reached_sent and rnd.random() < 0.2 else 0
        user = rnd.choices(USERS, USER_WEIGHTS)[0]
        error = (
            "30003 Unreachable destination handset" if status in ("failed", "undelivered") else None
        )
        deleted = created + timedelta(days=1) if rnd.random() < 0.001 else None
        batch.requests.append(
            (
                rid, workspace_id, rid, c.id, c.name, c.phone, c.email, "fr",
                METHOD_OF[channel], channel, "product" if rnd.random() < 0.25 else "service",
                f"ORD-{rid:07d}" if rnd.random() < 0.4 else None, status, user, user.lower(),
                created, created, created, sent_at, delivered_at, opened_at, clicked_at,
                retries, error, None, None, None, deleted,
            )
        )  # fmt: skip
        first_message = message_id + 1
        for ch in channel.split("+"):
            for kind in ("initial", "reminder")[: 1 + retries]:
                message_id += 1
                to = c.email if ch == "email" else c.phone
                batch.messages.append(
                    (
                        message_id, workspace_id, rid, kind, ch, to, status, sent_at or created,
                        f"bench{message_id:010d}", None, None, 0, sent_at, delivered_at, None,
                        opened_at, clicked_at, created if status == "failed" else None,
                        "twilio" if ch != "email" else "smtp",
                        f"SM{message_id:032x}" if sent_at else None,
                        "30003" if error else None, error, None, None, created, created,
                    )
                )  # fmt: skip
        event_id += 1
        batch.events.append(
            (event_id, workspace_id, rid, first_message, "created", user, created, "{}", None)
        )
        if status not in ("queued",):
            event_id += 1
            batch.events.append(
                (
                    event_id, workspace_id, rid, first_message, status, "system",
                    sent_at or created, json.dumps({"status": status}), None,
                )
            )  # fmt: skip
        if rid % BATCH == 0 or rid == rows:
            yield batch
            batch = Batch([], [], [])


def contacts(count: int, workspace_id: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for i in range(1, count + 1):
        c = customer(i)
        chunk.append((i, workspace_id, c.name, c.phone, c.email, "fr", None, None, NOW - SPAN))
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sqlite_value(value: Any) -> Any:
    # The format SQLAlchemy's SQLite DateTime writes (naive UTC, always microseconds).
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


Writer = Callable[[str, Sequence[str], list[tuple[Any, ...]]], None]


def _load(write: Writer, rows: int, ws: int, log: Any, label: str) -> None:
    """Write the contacts, then requests with their messages and events, in batches."""
    for chunk in contacts(customers_for(rows), ws):
        write("contact", CONTACT_COLUMNS, chunk)
    done = 0
    started = time.monotonic()
    for batch in generate(rows, ws):
        write("review_request", REQUEST_COLUMNS, batch.requests)
        write("message", MESSAGE_COLUMNS, batch.messages)
        write("event", EVENT_COLUMNS, batch.events)
        done += len(batch.requests)
        if done % 100_000 == 0:
            log(f"  {label}: {done:,} requests ({time.monotonic() - started:.0f} s)")


def seed_sqlite(path: str, rows: int, log: Any = print) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-400000")  # 400 MB while loading
    con.execute("BEGIN")
    ws = _sqlite_workspace(con, rows)

    def put(table: str, columns: Sequence[str], data: list[tuple[Any, ...]]) -> None:
        con.executemany(
            _insert_sql(table, columns), [tuple(map(_sqlite_value, row)) for row in data]
        )

    _load(put, rows, ws, log, "sqlite")
    con.execute("COMMIT")
    log("  sqlite: ANALYZE")
    con.execute("ANALYZE")
    con.close()


def _sqlite_workspace(con: sqlite3.Connection, rows: int) -> int:
    cur = con.execute(
        "INSERT INTO workspace (team_id, name, policy, next_number, created_at) VALUES (?,?,?,?,?)",
        (TEAM_ID, "Bench", json.dumps({"region": "FR"}), rows + 1, _sqlite_value(NOW - SPAN)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def seed_postgresql(url: str, rows: int, log: Any = print) -> None:
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as con:
        con.execute("SET synchronous_commit = off")
        con.execute("SET maintenance_work_mem = '256MB'")
        ws = con.execute(
            "INSERT INTO workspace (team_id, name, policy, next_number, created_at) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (TEAM_ID, "Bench", json.dumps({"region": "FR"}), rows + 1, NOW - SPAN),
        ).fetchone()[0]  # type: ignore[index]

        def copy(table: str, columns: Sequence[str], data: list[tuple[Any, ...]]) -> None:
            with con.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in data:
                    cp.write_row(row)

        _load(copy, rows, ws, log, "postgresql")
        for table in ("contact", "review_request", "message", "event"):
            con.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        con.commit()
        con.autocommit = True
        log("  postgresql: VACUUM ANALYZE")
        for table in ("contact", "review_request", "message", "event"):
            con.execute(f"VACUUM ANALYZE {table}")


def reset_postgresql(url: str) -> None:
    """Empty the benchmark database's schema (never point this at a database you keep)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def seed(url: str, rows: int, log: Any = print) -> float:
    """Migrate an empty database and load `rows` requests into it; return the seconds taken."""
    started = time.monotonic()
    store_db.upgrade(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        seed_sqlite(parsed.database, rows, log)
    else:
        seed_postgresql(url, rows, log)
    return time.monotonic() - started
