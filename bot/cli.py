"""The `reviewops` command line: the Typer app, the helpers its commands share, and `main`.

The commands live by job in bot/cli_requests.py, bot/cli_history.py, bot/cli_export.py,
bot/cli_settings.py, bot/cli_run.py and the others imported at the end; importing this module
registers them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, OperationalError

from bot import logging_setup
from bot.app import ReviewOpsApp, create_app
from bot.domain import numbers as request_numbers
from bot.domain.errors import DomainError, InvalidInput
from bot.settings import Settings
from bot.usecases import history
from bot.usecases.actors import Actor
from bot.usecases.history import Criteria, HistoryFilter, NotAChoice
from bot.usecases.inputs import BulkResult
from store import db as store_db

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
# The history's filters, as `list` and `export` take them (read by history_filter, one rule).
StatusOpt = Annotated[list[str] | None, typer.Option(help="Status (repeatable).")]
ViaOpt = Annotated[str | None, typer.Option(help="sms, whatsapp or email.")]
SearchOpt = Annotated[str | None, typer.Option(help="Name, email or phone.")]
ByOpt = Annotated[str | None, typer.Option(help="Slack user id of the sender.")]
TypeOpt = Annotated[str | None, typer.Option("--type", help="service or product.")]
RefOpt = Annotated[str | None, typer.Option(help="Order or service reference.")]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="Created on or after this day (YYYY-MM-DD).")
]
ToOpt = Annotated[
    str | None, typer.Option("--to", help="Created on or before this day (YYYY-MM-DD).")
]
ImportOpt = Annotated[
    str | None, typer.Option("--import", help="The requests of one CSV import (its id).")
]


def fail(message: str) -> NoReturn:
    """Print a user error to stderr and exit with code 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def settings_problems(exc: ValidationError) -> list[str]:
    """Say what is wrong with the settings, one line each, naming the variable."""
    problems: list[str] = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        variable = str(error["loc"][0]) if error["loc"] else ""
        if variable and not message.startswith(variable):
            message = f"{variable}: {message}"
        problems.append(message)
    return problems


def load_settings(*, service: bool = False) -> Settings:
    """Read the process settings and set up logging; a wrong one stops the command, saying why,
    with exit code 2. A `service` (serve, worker) logs at INFO unless LOG_LEVEL says otherwise;
    a one-shot command at WARNING."""
    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in settings_problems(exc):
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(code=2) from None
    level = settings.log_level or ("INFO" if service else "WARNING")
    logging_setup.configure(level, settings.log_format)
    return settings


@contextmanager
def opened_app(*, upgrade: bool = True) -> Iterator[ReviewOpsApp]:
    """Open the app on the configured database; a refusal inside exits with its message."""
    settings = load_settings()
    with database_reached():
        if upgrade:
            store_db.upgrade(settings.database_url)
        try:
            app = create_app(settings)
        except ValueError as exc:  # a setting only its adapter can read, like SMTP_URL
            fail(str(exc))
    try:
        with database_reached():
            yield app
    except DomainError as exc:
        fail(exc.message)
    finally:
        app.close()


@contextmanager
def database_reached() -> Iterator[None]:
    """Say that DATABASE_URL is unreadable or its database unreachable, not a traceback."""
    try:
        yield
    except ArgumentError:
        # Not echoed: the URL may hold a password.
        fail(
            "DATABASE_URL is not a database URL "
            "(like sqlite:///reviewops.db or postgresql+psycopg://user:pass@host/db)."
        )
    except OperationalError as exc:
        fail(f"cannot reach the database of DATABASE_URL: {exc.orig or exc}".strip())


def workspace_id(app: ReviewOpsApp, team_id: str | None, *, sends: bool = False) -> int:
    """Resolve the workspace the CLI acts on (see DESIGN: the token's, the named, or the only one).

    `sends`: the command makes something go out (send, resume, import, an API key), which an
    OAuth workspace that uninstalled the app may not do, as its API keys may not; reading,
    exporting, pausing, canceling and erasing its data still work.
    """
    if team_id is None and app.settings.slack_bot_token:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError, SlackClientError

        client = WebClient(token=app.settings.slack_bot_token, base_url=app.settings.slack_api_url)
        try:
            auth = client.auth_test()
        except SlackApiError as exc:
            fail(f"Slack refused SLACK_BOT_TOKEN: {exc.response.get('error')}.")
        except (SlackClientError, OSError) as exc:
            fail(f"Slack can't be reached to find the workspace of SLACK_BOT_TOKEN: {exc}")
        workspace = app.ops.ensure_workspace(str(auth["team_id"]), str(auth.get("team") or ""))
    else:
        workspace = app.ops.only_workspace(team_id)
    assert workspace.id is not None
    if sends and not app.ops.workspaces.serving(workspace.id, oauth=app.settings.oauth_installs):
        fail(
            f"workspace {workspace.team_id} has uninstalled reviewops: nothing is sent for it "
            "until it reinstalls the app (its data can still be listed, exported and erased)."
        )
    return workspace.id


def cli_actor() -> Actor:
    """Name the person at the terminal, as events record them."""
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001  (no login name in some containers)
        user = "ops"
    # The operator at the terminal runs the deployment: an admin of every workspace.
    return Actor(f"cli:{user}", user, admin=True)


def parse_day(option: str, value: str | None) -> date | None:
    """Read a `--from`/`--to` style day (YYYY-MM-DD), or exit 2 naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: '{value}' is not a day like 2026-12-01.")


def parse_number(raw: str) -> int:
    """Read one request number ("42" or "#42"), or exit 2 saying why not."""
    try:
        return request_numbers.parse_number(raw)
    except DomainError as exc:
        fail(exc.message)


def parse_numbers(raw: list[str]) -> list[int]:
    """Read request numbers and ranges as Slack does ("#42 43", "40-45"), or exit 2."""
    try:
        return request_numbers.parse_numbers(" ".join(raw)) if raw else []
    except DomainError as exc:
        fail(exc.message)


def report(result: BulkResult, verb: str) -> None:
    """Print what changed and what was refused; exit 1 when nothing changed, 2 when every
    number given was unknown (a mistake in what was typed)."""
    for number in result.changed:
        typer.echo(f"#{number} {verb}")
    for number, reason in result.refused:
        typer.echo(f"#{number} not {verb}: {reason}", err=True)
    if result.refused and not result.changed:
        mistyped = len(result.unknown) == len(result.refused)
        raise typer.Exit(code=2 if mistyped else 1)


def filter_criteria(
    status: list[str] | None,
    via: str | None,
    search: str | None,
    by: str | None,
    review_type: str | None,
    ref: str | None,
    from_: str | None,
    to: str | None,
    import_id: str | None,
) -> Criteria:
    """Gather the filter options into criteria (their days read here; the rest by
    history_filter). :raise typer.Exit: a day that is not one (exit 2)."""
    return Criteria(
        statuses=status or [],
        via=via,
        sender=by,
        review_type=review_type,
        reference=ref,
        created_from=parse_day("--from", from_),
        created_to=parse_day("--to", to),
        text=search,
        import_id=import_id,
    )


def cli_filter(app: ReviewOpsApp, ws: int, criteria: Criteria) -> HistoryFilter:
    """Build the history filter of a command; a wrong criterion exits naming its option."""
    policy = app.ops.policy(ws)
    try:
        return history.history_filter(criteria, timezone=policy.timezone, region=policy.region)
    except InvalidInput as exc:
        fail(_in_option_words(exc))


def _in_option_words(exc: InvalidInput) -> str:
    """Say a filter error with the CLI's option names."""
    if isinstance(exc, NotAChoice):
        if exc.field == "status":
            return f"Unknown status '{exc.value}'. Use one of: {', '.join(exc.choices)}."
        *others, last = exc.choices
        return f"--{exc.field} must be {', '.join(others)} or {last}."
    if exc.field == "to":
        return "--to must not come before --from."
    if exc.field == "import":
        return "--import takes an import's id, a number like 3."
    return exc.message


# Each module adds its commands to `cli` when imported; they import only this module, and
# are imported last, once the helpers above exist, so any of them may be imported first.
from bot import (  # noqa: E402, F401
    cli_apikeys,
    cli_audit,
    cli_export,
    cli_history,
    cli_import,
    cli_orders,
    cli_requests,
    cli_run,
    cli_settings,
    cli_stats,
    cli_tokens,
)


def main() -> None:
    """Run the `reviewops` command line; settings that cannot be read stop it with exit code 2."""
    try:
        cli()
    except ValidationError as exc:
        # Raised by Settings() outside `load_settings`: say what is wrong, not a traceback.
        for problem in settings_problems(exc):
            typer.echo(f"error: {problem}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
