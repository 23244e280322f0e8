"""The `reviewops` command line: serve, worker, db, and the request commands for scripts and ops."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, NoReturn

import typer

from bot.app import ReviewOpsApp, create_app
from bot.domain import contacts
from bot.domain import numbers as request_numbers
from bot.domain.errors import DomainError
from bot.domain.status import Status
from bot.domain.timing import format_local
from bot.requests import METHOD_LABELS, Actor, BulkResult, RequestCreate, RequestEdit
from bot.settings import Settings
from store import db as store_db
from store.models import Message

cli = typer.Typer(
    name="reviewops",
    help="Ask customers for reviews by SMS, WhatsApp and email, and run the outreach from Slack.",
    no_args_is_help=True,
    add_completion=False,
)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
settings_cli = typer.Typer(help="Workspace settings.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(settings_cli, name="settings")

WorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace", help="Slack team id, when there are several.")
]


def fail(message: str) -> NoReturn:
    """Print a user error to stderr and exit with code 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@contextmanager
def opened_app(*, upgrade: bool = True) -> Iterator[ReviewOpsApp]:
    settings = Settings()
    if upgrade:
        store_db.upgrade(settings.database_url)
    app = create_app(settings)
    try:
        yield app
    except DomainError as exc:
        fail(exc.message)
    finally:
        app.close()


def workspace_id(app: ReviewOpsApp, team_id: str | None) -> int:
    """Resolve the workspace the CLI acts on (see DESIGN: the token's, the named, or the only one)."""
    if team_id is None and app.settings.slack_bot_token:
        from slack_sdk import WebClient

        client = WebClient(token=app.settings.slack_bot_token, base_url=app.settings.slack_api_url)
        auth = client.auth_test()
        workspace = app.ops.ensure_workspace(str(auth["team_id"]), str(auth.get("team") or ""))
    else:
        workspace = app.ops.only_workspace(team_id)
    assert workspace.id is not None
    return workspace.id


def cli_actor() -> Actor:
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001  (no login name in some containers)
        user = "ops"
    return Actor(f"cli:{user}", user)


def parse_numbers(raw: list[str]) -> list[int]:
    try:
        return request_numbers.parse_numbers(" ".join(raw)) if raw else []
    except DomainError as exc:
        fail(exc.message)


def report(result: BulkResult, verb: str) -> None:
    for number in result.changed:
        typer.echo(f"#{number} {verb}")
    for number, reason in result.refused:
        typer.echo(f"#{number} not {verb}: {reason}", err=True)
    if result.refused and not result.changed:
        raise typer.Exit(code=1)


@cli.command()
def send(
    name: Annotated[str, typer.Argument(help="Customer name.")],
    phone: Annotated[str | None, typer.Option(help="Phone number, any usual format.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    via: Annotated[
        str | None, typer.Option(help="sms, whatsapp, email, sms_or_email or sms_and_email.")
    ] = None,
    ref: Annotated[str | None, typer.Option(help="Order or service reference.")] = None,
    review_type: Annotated[str, typer.Option("--type", help="service or product.")] = "service",
    in_: Annotated[str | None, typer.Option("--in", help="Delay, like 2h or 1d.")] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Date and time in the workspace timezone, like 2026-12-01T10:00."),
    ] = None,
    language: Annotated[str | None, typer.Option(help="en, fr or sv.")] = None,
    override_cooldown: Annotated[
        bool, typer.Option("--override-cooldown", help="Send even within the cooldown.")
    ] = False,
    queue_only: Annotated[
        bool, typer.Option("--queue-only", help="Leave sending to a running worker.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a review request; send it now when it is due."""
    from bot.domain.timing import parse_delay, parse_when

    if via is not None and via not in METHOD_LABELS:
        fail(f"--via must be one of {', '.join(METHOD_LABELS)}.")
    if review_type not in ("service", "product"):
        fail("--type must be service or product.")
    if in_ and at:
        fail("Give --in or --at, not both.")
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        policy = app.ops.policy(ws)
        when = "delay"
        delay = at_time = None
        if in_:
            delay = parse_delay(in_)
        if at:
            when = "at"
            at_time = parse_when(at, now=app.clock.now(), tz=policy.timezone)
        data = RequestCreate(
            name=name,
            phone=phone,
            email=email,
            method=via,  # type: ignore[arg-type]
            review_type=review_type,  # type: ignore[arg-type]
            reference=ref,
            when=when,  # type: ignore[arg-type]
            at=at_time,
            delay=delay,
            language=language,
            override_cooldown=override_cooldown,
        )
        request = app.ops.create(ws, data, cli_actor())
        due = request.scheduled_at
        typer.echo(f"#{request.number} created for {request.customer_name} by {request.channel}")
        if not queue_only and due is not None and due <= app.clock.now():
            app.dispatcher.run_until_idle()
        detail = app.ops.show(ws, request.number)
        typer.echo(f"#{request.number} {detail.request.status}")


@cli.command("list")
def list_(
    status: Annotated[list[str] | None, typer.Option(help="Status (repeatable).")] = None,
    via: Annotated[str | None, typer.Option(help="sms, whatsapp or email.")] = None,
    search: Annotated[str | None, typer.Option(help="Name, email or phone.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    workspace: WorkspaceOpt = None,
) -> None:
    """List requests, newest first."""
    from store.queries import HistoryFilter, list_requests

    valid = {s.value for s in Status}
    for s in status or []:
        if s not in valid:
            fail(f"Unknown status '{s}'. Use one of: {', '.join(sorted(valid))}.")
    if via is not None and via not in ("sms", "whatsapp", "email"):
        fail("--via must be sms, whatsapp or email.")
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        phone = contacts.phone_search(search or "", app.ops.policy(ws).region)
        f = HistoryFilter(
            statuses=frozenset(status or []),
            channel=via,
            text=search,
            phone=phone.e164,
            phone_prefix=phone.prefix,
        )
        with app.db.read() as session:
            page = list_requests(session, ws, f, limit=limit)
        typer.echo(
            f"{'#':>6}  {'name':<24} {'contact':<28} {'via':<10} {'status':<12} {'sent':<22} retries"
        )
        tz = app.ops.policy(ws).timezone
        for r in page.rows:
            sent = format_local(r.sent_at, tz) if r.sent_at else "-"
            contact = r.phone or r.email or ""
            typer.echo(
                f"{'#' + str(r.number):>6}  {r.customer_name[:24]:<24} {contact[:28]:<28} "
                f"{r.channel:<10} {r.status:<12} {sent:<22} {r.retries}"
            )


@cli.command()
def show(
    number: Annotated[str, typer.Argument(help="A request number, or `customer`.")],
    value: Annotated[
        list[str] | None,
        typer.Argument(help="After `customer`: an email, phone number or name."),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show a request, its messages and its history (`show customer X`: see `customer`)."""
    if number.lower() == "customer":  # as in Slack's `/reviews show customer ...`
        if not value:
            fail("Say whom: `reviewops show customer EMAIL|PHONE|NAME`.")
        customer(value, flat=False, workspace=workspace)
        return
    if value:
        fail("Show one request at a time, like `reviewops show 42`.")
    (n,) = parse_numbers([number])
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        d = app.ops.show(ws, n)
        r = d.request
        tz = d.policy.timezone

        def local(value: datetime | None) -> str:
            # Times in the workspace timezone, named, as people type them.
            return format_local(value, tz) if value else "-"

        rows = [
            ("Request", f"#{r.number}"),
            ("Name", r.customer_name),
            ("Email", r.email or "-"),
            ("Phone", r.phone or "-"),
            ("Reference", r.reference or "-"),
            ("Type", r.review_type),
            ("Method", METHOD_LABELS.get(r.method, r.method)),
            ("Status", r.status),
            ("Created", local(r.created_at)),
            ("Scheduled", local(r.scheduled_at)),
            ("Sent", local(r.sent_at)),
            ("Retries", str(r.retries)),
            ("Sent by", r.created_by_name or r.created_by),
        ]
        for label, shown in rows:
            typer.echo(f"{label:<10} {shown}")
        typer.echo("Messages:")
        for m in d.messages:
            why = f"  ({m.error_code or ''} {m.error_reason})" if m.error_reason else ""
            typer.echo(
                f"  {m.kind:<8} {m.channel:<8} {m.status:<12} due {local(m.due_at)}  sent {local(m.sent_at)}{why}"
            )
        typer.echo("Events:")
        for e in d.events:
            typer.echo(f"  {local(e.at)}  {e.kind:<18} {e.detail.get('actor_name') or e.actor}")


@cli.command()
def customer(
    value: Annotated[
        list[str], typer.Argument(help="Email, phone number (any usual form) or name.")
    ],
    flat: Annotated[
        bool, typer.Option("--flat", help="One list of messages, newest first.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show one customer: contact, opt-outs, and every request with its messages."""
    from bot.domain.contacts import format_phone_international

    with opened_app() as app:
        ws = workspace_id(app, workspace)
        lookup = app.ops.find_customer(ws, " ".join(value))
        if lookup.history is None:
            typer.echo(f"Several customers match '{lookup.query}':", err=True)
            for c in lookup.choices:
                contact = "  ".join(x for x in (c.phone, c.email) if x)
                typer.echo(f"  {c.name:<24} {contact}", err=True)
            if lookup.more:
                typer.echo("  ... and more", err=True)
            fail("Give their phone number or email to choose one.")
        h = lookup.history
        c = h.contact
        phone = f"{format_phone_international(c.phone)} ({c.phone})" if c.phone else "-"
        rows = [
            ("Customer", c.name),
            ("Phone", phone),
            ("Email", c.email or "-"),
            ("SMS/WhatsApp", _opt_out(c.phone, c.phone_opted_out_at, "replied STOP")),
            ("Email opt", _opt_out(c.email, c.email_opted_out_at, "unsubscribed")),
            ("Requests", str(h.total_requests)),
        ]
        for label, shown in rows:
            typer.echo(f"{label:<13} {shown}")
        lines: list[tuple[datetime, int, str]] = []
        for r in h.requests:
            assert r.id is not None
            if not flat:
                ref = f"  ref {r.reference}" if r.reference else ""
                typer.echo(
                    f"\n#{r.number}  {r.status}  {r.channel}  created {_fmt(r.created_at)}{ref}"
                )
            items = [
                (m.sent_at or m.due_at, m.id or 0, _message_row(m)) for m in h.messages[r.id]
            ] + [
                (e.at, e.id or 0, f'reply    {_fmt(e.at)}  "{e.detail.get("text", "")}"')
                for e in h.replies[r.id]
            ]
            if flat:
                lines += [(at, order, f"#{r.number:<5} {text}") for at, order, text in items]
            else:
                for _, _, text in sorted(items):
                    typer.echo(f"  {text}")
        if flat:
            typer.echo("")
            for _, _, text in sorted(lines, reverse=True):
                typer.echo(text)
        if h.total_requests > len(h.requests):
            typer.echo(f"({h.total_requests - len(h.requests)} older requests not shown)")


def _opt_out(address: str | None, at: datetime | None, how: str) -> str:
    if not address:
        return "-"
    return f"opted out {_fmt(at)} ({how})" if at else "allowed"


def _message_row(m: Message) -> str:
    why = f"  ({m.error_code or ''} {m.error_reason})" if m.error_reason else ""
    when = f"sent {_fmt(m.sent_at)}" if m.sent_at else f"due {_fmt(m.due_at)}"
    return f"{m.kind:<8} {m.channel:<8} {m.to_address}  {m.status:<12} {when}{why}"


@cli.command()
def delete(
    number: str,
    yes: Annotated[bool, typer.Option("--yes", help="Don't ask for confirmation.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Erase a request's customer details and messages for good (an audit event stays)."""
    (n,) = parse_numbers([number])
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        if app.ops.show(ws, n).request.deleted_at is not None:
            fail(f"#{n} is already deleted.")
        if not yes and not typer.confirm(f"Erase #{n} for good?"):
            raise typer.Exit(code=1)
        app.ops.delete(ws, n, cli_actor())
        typer.echo(f"#{n} deleted")


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@cli.command()
def edit(
    number: Annotated[str, typer.Argument(help="Request number, like 42 or #42.")],
    name: Annotated[str | None, typer.Option(help="Customer name.")] = None,
    phone: Annotated[str | None, typer.Option(help='Phone number ("" removes it).')] = None,
    email: Annotated[str | None, typer.Option(help='Email address ("" removes it).')] = None,
    ref: Annotated[str | None, typer.Option(help='Reference ("" removes it).')] = None,
    override_cooldown: Annotated[
        bool, typer.Option("--override-cooldown", help="Allow a contact invited recently.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Correct a request's name, contact or reference before it goes out."""
    [parsed] = parse_numbers([number])
    if name is None and phone is None and email is None and ref is None:
        fail("Say what to change: --name, --phone, --email or --ref.")
    data = RequestEdit(
        name=name, phone=phone, email=email, reference=ref, override_cooldown=override_cooldown
    )
    with opened_app() as app:
        request = app.ops.edit(workspace_id(app, workspace), parsed, data, cli_actor())
        typer.echo(
            f"#{request.number} {request.customer_name} {request.phone or ''} "
            f"{request.email or ''}".rstrip()
        )


@cli.command()
def pause(numbers: list[str], workspace: WorkspaceOpt = None) -> None:
    """Pause queued requests."""
    parsed = parse_numbers(numbers)
    with opened_app() as app:
        report(app.ops.pause(workspace_id(app, workspace), parsed, cli_actor()), "paused")


@cli.command()
def resume(numbers: list[str], workspace: WorkspaceOpt = None) -> None:
    """Resume paused requests."""
    parsed = parse_numbers(numbers)
    with opened_app() as app:
        report(app.ops.resume(workspace_id(app, workspace), parsed, cli_actor()), "resumed")


@cli.command()
def cancel(
    numbers: Annotated[list[str] | None, typer.Argument()] = None,
    all_queued: Annotated[
        bool, typer.Option("--all-queued", help="Cancel every queued request.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Don't ask for confirmation.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Cancel requests that have not been sent yet."""
    if bool(numbers) == all_queued:
        fail("Give request numbers or --all-queued (not both).")
    parsed = parse_numbers(numbers or [])
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        if all_queued:
            count = app.ops.count_queued(ws)
            if count == 0:
                typer.echo("Nothing is queued.")
                return
            if not yes and not typer.confirm(f"Cancel {count} queued request(s)?"):
                raise typer.Exit(code=1)
            report(app.ops.cancel_all_queued(ws, cli_actor()), "canceled")
        else:
            report(app.ops.cancel(ws, parsed, cli_actor()), "canceled")


@cli.command()
def export(
    out: Annotated[
        str, typer.Option("--out", help="CSV file to write, or - for standard output.")
    ] = "-",
    separator: Annotated[str, typer.Option("--separator", help=", or ;")] = ",",
    bom: Annotated[bool, typer.Option("--bom", help="Start with a BOM (Excel).")] = False,
    status: Annotated[list[str] | None, typer.Option(help="Status (repeatable).")] = None,
    via: Annotated[str | None, typer.Option(help="sms, whatsapp or email.")] = None,
    search: Annotated[str | None, typer.Option(help="Name, email or phone.")] = None,
    by: Annotated[str | None, typer.Option(help="Slack user id of the sender.")] = None,
    review_type: Annotated[str | None, typer.Option("--type", help="service or product.")] = None,
    ref: Annotated[str | None, typer.Option(help="Order or service reference.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Created on or after this day (YYYY-MM-DD).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Created on or before this day (YYYY-MM-DD).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write every matching request as CSV (same columns as Slack's export), newest first."""
    import os
    from datetime import date, time, timedelta
    from zoneinfo import ZoneInfo

    import click

    from bot.domain import contacts
    from bot.export import ExportOptions, count_matching, parse_separator, write_csv
    from store.queries import HistoryFilter

    try:
        sep = parse_separator(separator)
    except ValueError as exc:
        fail(f"--separator: {exc}")
    valid = {s.value for s in Status}
    for s in status or []:
        if s not in valid:
            fail(f"Unknown status '{s}'. Use one of: {', '.join(sorted(valid))}.")
    if via is not None and via not in ("sms", "whatsapp", "email"):
        fail("--via must be sms, whatsapp or email.")
    if review_type is not None and review_type not in ("service", "product"):
        fail("--type must be service or product.")
    days: dict[str, date] = {}
    for name, value in (("--from", from_), ("--to", to)):
        if value is not None:
            try:
                days[name] = date.fromisoformat(value)
            except ValueError:
                fail(f"{name}: '{value}' is not a day like 2026-12-01.")
    if "--from" in days and "--to" in days and days["--to"] < days["--from"]:
        fail("--to must not come before --from.")
    if out != "-" and os.path.isdir(out):
        fail(f"--out: '{out}' is a directory.")
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        policy = app.ops.policy(ws)
        zone = ZoneInfo(policy.timezone)

        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(0), tzinfo=zone)

        phone = contacts.phone_search(search or "", policy.region)
        f = HistoryFilter(
            statuses=frozenset(status or []),
            channel=via,
            created_by=by,
            review_type=review_type,
            reference=ref,
            created_from=midnight(days["--from"]) if "--from" in days else None,
            created_to=midnight(days["--to"] + timedelta(days=1)) if "--to" in days else None,
            text=search,
            phone=phone.e164,
            phone_prefix=phone.prefix,
        )
        options = ExportOptions(separator=sep, bom=bom, timezone=policy.timezone)
        total = count_matching(app.db, ws, f)
        # The bar goes to stderr, so `--out -` leaves nothing but CSV on stdout.
        with click.progressbar(
            length=total, label="exporting", file=sys.stderr, show_pos=True
        ) as bar:
            done = 0

            def advance(rows: int) -> None:
                nonlocal done
                bar.update(rows - done)
                done = rows

            if out == "-":
                sys.stdout.flush()
                stdout = sys.stdout.buffer
                rows = write_csv(app.db, ws, f, stdout, options=options, progress=advance)
                stdout.flush()
            else:
                # Written beside the target and renamed at the end: no half file on failure.
                partial = f"{out}.partial"
                try:
                    with open(partial, "wb") as target:
                        rows = write_csv(app.db, ws, f, target, options=options, progress=advance)
                    os.replace(partial, out)
                except BaseException:
                    if os.path.exists(partial):
                        os.remove(partial)
                    raise
            advance(rows)
    typer.echo(f"{rows} requests exported" + (f" to {out}" if out != "-" else ""), err=True)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version."""
    settings = Settings()
    store_db.upgrade(settings.database_url)
    typer.echo("database is up to date")


@settings_cli.command("show")
def settings_show(workspace: WorkspaceOpt = None) -> None:
    """Show the workspace settings."""
    from bot.domain.policy import as_display_rows

    with opened_app() as app:
        policy = app.ops.policy(workspace_id(app, workspace))
        for key, value in as_display_rows(policy):
            typer.echo(f"{key:<24} {value}")


@settings_cli.command("set")
def settings_set(pairs: list[str], workspace: WorkspaceOpt = None) -> None:
    """Change workspace settings: KEY=VALUE ...; all or nothing."""
    from bot.domain.policy import parse_setting_assignments

    with opened_app() as app:
        ws = workspace_id(app, workspace)
        policy = parse_setting_assignments(app.ops.policy(ws), pairs)
        app.ops.update_policy(ws, policy, cli_actor())
        typer.echo("settings saved")


def _run_until_signal(app: ReviewOpsApp) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()


@cli.command()
def worker() -> None:
    """Run the scheduler only: dispatch, reaper and Slack outbox."""
    _setup_logging()
    settings = Settings()
    store_db.upgrade(settings.database_url)
    app = create_app(settings)
    typer.echo(settings.senders_line())
    app.start_scheduler()
    typer.echo("worker running; Ctrl-C to stop")
    try:
        _run_until_signal(app)
    finally:
        app.close()


@cli.command()
def serve(
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Talk to Slack over Socket Mode (development).")
    ] = False,
) -> None:
    """Serve Slack, webhooks, tracked links and health, and run the scheduler."""
    _setup_logging()
    settings = Settings()
    if socket_mode and not (settings.slack_app_token and settings.slack_bot_token):
        fail("Socket Mode needs SLACK_APP_TOKEN (xapp-...) and SLACK_BOT_TOKEN.")
    store_db.upgrade(settings.database_url)
    typer.echo(settings.senders_line())
    from bot.server import serve as run_server

    run_server(settings, socket_mode=socket_mode)


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
