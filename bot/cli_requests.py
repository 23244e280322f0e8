"""`reviewops send`, `edit`, `delete`, `pause`, `resume` and `cancel`: change requests from a shell."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal, get_args

import typer

from bot.app import ReviewOpsApp
from bot.cli import (
    WorkspaceOpt,
    cli,
    cli_actor,
    fail,
    opened_app,
    parse_number,
    parse_numbers,
    report,
    workspace_id,
)
from bot.cli_when import say_when
from bot.domain.channels import METHOD_LABELS
from bot.domain.errors import InvalidInput
from bot.domain.send_time import asked_time
from bot.domain.timing import parse_delay, parse_when
from bot.usecases.history import ReviewRequest
from bot.usecases.inputs import RequestCreate, RequestEdit, ReviewType

When = tuple[Literal["delay", "at"], timedelta | None, datetime | None]


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
    consent: Annotated[
        bool,
        typer.Option("--consent", help="The customer agreed to be contacted (require_consent)."),
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a review request; send it now when it is due."""
    _check_options(via, review_type, in_, at)
    with opened_app() as app:
        ws = workspace_id(app, workspace, sends=True)
        when, delay, at_time = _when(app, ws, in_, at)
        data = RequestCreate(
            name=name,
            phone=phone,
            email=email,
            method=via,  # type: ignore[arg-type]
            review_type=review_type,  # type: ignore[arg-type]
            reference=ref,
            when=when,
            at=at_time,
            delay=delay,
            language=language,
            override_cooldown=override_cooldown,
            origin="cli",
            consent=consent,
        )
        request = _create(app, ws, data)
        due = request.scheduled_at
        typer.echo(f"#{request.number} created for {request.customer_name} by {request.channel}")
        if not queue_only and due is not None and due <= app.clock.now():
            app.dispatcher.run_until_idle()
        asked = asked_time(when, at_time, delay, app.ops.policy(ws), request.created_at)
        detail = app.ops.show(ws, request.number)
        words = _asked_words(in_, at, detail.policy.delay)
        say_when(detail, asked=asked, asked_words=words, now=app.clock.now())


def _check_options(via: str | None, review_type: str, in_: str | None, at: str | None) -> None:
    """Refuse options that can't go together or aren't choices, before opening anything."""
    if via is not None and via not in METHOD_LABELS:
        fail(f"--via must be one of {', '.join(METHOD_LABELS)}.")
    if review_type not in get_args(ReviewType):
        fail("--type must be service or product.")
    if in_ and at:
        fail("Give --in or --at, not both.")


def _asked_words(in_: str | None, at: str | None, workspace_delay: str) -> str:
    """Say why a message that nothing else holds waits: the time or delay asked for."""
    if at:
        return f"at the time asked (--at {at})"
    if in_:
        return f"as asked (--in {in_})"
    return f"after the workspace's delay ({workspace_delay}; settings key delay)"


def _create(app: ReviewOpsApp, ws: int, data: RequestCreate) -> ReviewRequest:
    """Create the request; a missing consent is named by its option."""
    try:
        return app.ops.create(ws, data, cli_actor())
    except InvalidInput as exc:
        if exc.field != "consent":
            raise
        fail(f"--consent: {exc.message}")


def _when(app: ReviewOpsApp, ws: int, in_: str | None, at: str | None) -> When:
    """Read --in (a delay) or --at (a local time in the workspace's timezone)."""
    if at:
        timezone = app.ops.policy(ws).timezone
        return "at", None, parse_when(at, now=app.clock.now(), tz=timezone)
    return "delay", parse_delay(in_) if in_ else None, None


@cli.command()
def delete(
    number: str,
    yes: Annotated[bool, typer.Option("--yes", help="Don't ask for confirmation.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Erase a request's customer details and messages for good (an audit event stays)."""
    n = parse_number(number)
    with opened_app() as app:
        ws = workspace_id(app, workspace)
        if app.ops.show(ws, n).request.deleted_at is not None:
            fail(f"#{n} is already deleted.")
        if not yes and not typer.confirm(f"Erase #{n} for good?"):
            raise typer.Exit(code=1)
        app.ops.delete(ws, n, cli_actor())
        typer.echo(f"#{n} deleted")


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
    parsed = parse_number(number)
    if name is None and phone is None and email is None and ref is None:
        fail("Say what to change: --name, --phone, --email or --ref.")
    with opened_app() as app:
        data = RequestEdit(
            name=name, phone=phone, email=email, reference=ref, override_cooldown=override_cooldown
        )
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
        report(
            app.ops.resume(workspace_id(app, workspace, sends=True), parsed, cli_actor()),
            "resumed",
        )


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
