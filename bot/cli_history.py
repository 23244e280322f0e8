"""`reviewops list`, `show` and `customer`: the history, read through bot.usecases.history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from bot.app import ReviewOpsApp
from bot.cli import (
    ByOpt,
    FromOpt,
    ImportOpt,
    RefOpt,
    SearchOpt,
    StatusOpt,
    ToOpt,
    TypeOpt,
    ViaOpt,
    WorkspaceOpt,
    cli,
    cli_actor,
    cli_filter,
    fail,
    filter_criteria,
    opened_app,
    parse_number,
    workspace_id,
)
from bot.cli_customer_export import check_out, export_customer
from bot.cli_json import detail_json, emit, request_json
from bot.domain.bounds import within
from bot.domain.channels import METHOD_LABELS
from bot.domain.contacts import format_phone_international
from bot.domain.errors import InvalidInput
from bot.domain.status import Status
from bot.domain.timing import format_local
from bot.usecases import history
from bot.usecases.history import ContactHistory, Cursor, Message, ReviewRequest
from bot.usecases.inputs import RequestDetail

WAITING = frozenset({Status.QUEUED.value, Status.PAUSED.value})
MAX_CURSOR = 200  # a printed cursor is under 60 characters


@cli.command("list")
def list_(
    status: StatusOpt = None,
    via: ViaOpt = None,
    search: SearchOpt = None,
    by: ByOpt = None,
    review_type: TypeOpt = None,
    ref: RefOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    import_id: ImportOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="Continue after a page: its next cursor.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List requests, newest first (--limit at a time; --cursor continues)."""
    criteria = filter_criteria(status, via, search, by, review_type, ref, from_, to, import_id)
    after = _cursor(cursor)
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        f = cli_filter(app, ws, criteria)
        page = history.latest(app.db, ws, f, limit=limit, after=after)
        tz = app.ops.policy(ws).timezone
    next_cursor = page.next.encode() if page.next else None
    if as_json:
        emit({"requests": [request_json(r) for r in page.rows], "next_cursor": next_cursor})
        return
    _echo_rows(page.rows, tz)
    if next_cursor:
        typer.echo(f"More: reviewops list --cursor {next_cursor} (same filters)", err=True)


def _cursor(text: str | None) -> Cursor | None:
    """Read --cursor, or exit 2 saying it is not one a list printed."""
    if text is None:
        return None
    try:
        return Cursor.decode(within(text, MAX_CURSOR, what="--cursor"))
    except (ValueError, UnicodeDecodeError, InvalidInput):
        fail("--cursor: that is not a cursor printed by `reviewops list`.")


def _echo_rows(rows: list[ReviewRequest], tz: str) -> None:
    """Print one line per request under a header; a waiting one shows when it is due."""
    typer.echo(
        f"{'#':>6}  {'name':<24} {'contact':<28} {'via':<10} {'status':<12} "
        f"{'sent (or due)':<26} retries"
    )
    for r in rows:
        contact = r.phone or r.email or ""
        typer.echo(
            f"{'#' + str(r.number):>6}  {r.customer_name[:24]:<24} {contact[:28]:<28} "
            f"{r.channel:<10} {r.status:<12} {_sent_or_due(r, tz):<26} {r.retries}"
        )


def _sent_or_due(r: ReviewRequest, tz: str) -> str:
    if r.sent_at is not None:
        return format_local(r.sent_at, tz)
    if r.status in WAITING and r.scheduled_at is not None:
        return f"due {format_local(r.scheduled_at, tz)}"
    return "-"


@cli.command()
def show(
    number: Annotated[str, typer.Argument(help="A request number, or `customer`.")],
    value: Annotated[
        list[str] | None,
        typer.Argument(help="After `customer`: an email, phone number or name."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts.")
    ] = False,
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
    n = parse_number(number)
    with opened_app() as app:
        detail = app.ops.show(workspace_id(app, workspace), n)
    if as_json:
        emit(detail_json(detail))
    else:
        _echo_detail(detail)


def _echo_detail(d: RequestDetail) -> None:
    """Print a request's fields, then its messages and events, in the workspace's time."""
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
        ("Origin", r.origin or "-"),
        ("Consent", f"{local(r.consent_at)} by {r.consent_by}" if r.consent_at else "-"),
    ]
    for label, shown in rows:
        typer.echo(f"{label:<10} {shown}")
    typer.echo("Messages:")
    for m in d.messages:
        why = f"  ({m.error_code or ''} {m.error_reason})" if m.error_reason else ""
        typer.echo(
            f"  {m.kind:<8} {m.channel:<8} {m.status:<12} due {local(m.due_at)}  sent {local(m.sent_at)}{why}"
        )
        paced = d.paced.get(m.id or 0)
        if paced is not None:
            typer.echo(f"           {paced.sentence(local(paced.expected_at))}")
        for held in (d.window.get(m.id or 0), d.quiet.get(m.id or 0)):
            if held is not None:
                typer.echo(f"           {held.sentence()}")
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
    out: Annotated[
        str, typer.Option("--out", help="With `export`: JSON file to write, or - for stdout.")
    ] = "-",
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show one customer: contact, opt-outs, and every request with its messages.

    `reviewops customer export VALUE [--out FILE|-]` writes everything held about them as
    JSON (format reviewops.customer.v1), for a data access request; `customer erase VALUE
    [--yes]` erases them instead (as the customer may ask, GDPR art. 17).
    """
    if value[0].lower() == "erase":
        _erase(value[1:], yes, workspace)
        return
    exporting = value[0].lower() == "export"
    if exporting and len(value) == 1:
        fail("Say whom: `reviewops customer export EMAIL|PHONE|NAME`.")
    if exporting and out != "-":
        check_out(out)
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        found = _one_customer(app, ws, " ".join(value[1:] if exporting else value))
        if exporting:
            assert found.contact.id is not None
            export_customer(app, ws, found.contact.id, out)
            return
        _echo_contact(found)
        _echo_requests(found, flat=flat)


def _one_customer(app: ReviewOpsApp, ws: int, text: str) -> ContactHistory:
    """Find the one customer typed, or list the namesakes and exit 2."""
    lookup = app.ops.find_customer(ws, text)
    if lookup.history is None:
        typer.echo(f"Several customers match '{lookup.query}':", err=True)
        for c in lookup.choices:
            contact = "  ".join(x for x in (c.phone, c.email) if x)
            typer.echo(f"  {c.name:<24} {contact}", err=True)
        if lookup.more:
            typer.echo("  ... and more", err=True)
        fail("Give their phone number or email to choose one.")
    return lookup.history


def _erase(value: list[str], yes: bool, workspace: str | None) -> None:
    """Erase one customer's data for good, after a confirmation unless `--yes`."""
    if not value:
        fail("Say whom to erase: `reviewops customer erase EMAIL|PHONE|NAME`.")
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        lookup = app.ops.find_customer(ws, " ".join(value))
        if lookup.history is None:
            fail(f"Several customers match '{lookup.query}': give their phone number or email.")
        contact = lookup.history.contact
        assert contact.id is not None
        who = "  ".join(x for x in (contact.name, contact.phone, contact.email) if x)
        count = lookup.history.total_requests
        asked = f"Erase {who} and their {count} request(s) for good?"
        if not yes and not typer.confirm(asked):
            raise typer.Exit(code=1)
        erased = app.ops.erasure.erase_customer(ws, contact.id, cli_actor())
        typer.echo(f"Erased the customer and {erased} request(s); an audit line stays for each.")


def _echo_contact(h: ContactHistory) -> None:
    """Print who the customer is and what they opted out of."""
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


def _echo_requests(h: ContactHistory, *, flat: bool) -> None:
    """Print each request with its messages and replies, or (flat) one list, newest first."""
    lines: list[tuple[datetime, int, str]] = []
    for r in h.requests:
        assert r.id is not None
        if not flat:
            ref = f"  ref {r.reference}" if r.reference else ""
            typer.echo(f"\n#{r.number}  {r.status}  {r.channel}  created {_fmt(r.created_at)}{ref}")
        items = [(m.sent_at or m.due_at, m.id or 0, _message_row(m)) for m in h.messages[r.id]] + [
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


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"
