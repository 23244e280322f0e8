"""`/reviews import`: a CSV of customers, checked first (the dry run), then sent by an admin.

The form's submission is answered at once with "Checking the file…"; after that ack the file
is fetched from Slack (`files.info`, then its `url_private` with the bot token), read and
checked, and the modal is updated to the dry run. Its "Send N requests" (admins) reads the file
again, checks it again (the workspace may have changed meanwhile), and creates the requests in
batches, the modal showing the progress (a redraw lost on the network is skipped, never fatal);
the admin then gets a direct message with one button that cancels the whole import. An import
that stops partway says so in the modal and in that direct message, with the same button.
"""

from __future__ import annotations

import logging
import urllib.request
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from slack_bolt import Ack, App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View

from bot.compose import SAMPLE_TOKEN
from bot.domain.errors import DomainError, InvalidInput
from bot.domain.import_file import MAX_FILE_BYTES, ImportFile, read_csv
from bot.domain.timing import parse_delay
from bot.usecases.history import read_import_id
from bot.usecases.import_plan import ImportOptions, ImportPlan
from bot.usecases.importing import ImportFailed
from bot.usecases.inputs import Method
from handlers.blocks.common import INPUT, metadata, read_metadata, text_reply
from handlers.blocks.import_form import (
    IMPORT_CANCEL,
    IMPORT_CONFIRM,
    IMPORT_MODAL,
    dry_run_view,
    import_modal,
    import_stopped,
    import_summary,
    note_view,
    progress_text,
)
from handlers.delivery_keys import submission_key
from handlers.errors import Request, field_errors, field_refusals, refusals, to_clicker
from handlers.invocation import Invocation
from handlers.modal_input import entered
from handlers.permissions import refusal
from handlers.surface import Registered, Surface, actor_of, first_action, services
from handlers.text import escape

log = logging.getLogger(__name__)

TITLE = "Import customers"
REFUSAL_WHAT = "send an import"
FORM_FIELDS = {"file": "file", "delay": "delay", "consent": "consent"}
PROGRESS_STEPS = 10  # the modal is redrawn at most this many times while the rows are created


def run_command(inv: Invocation) -> None:
    """`/reviews import`: open the form (anyone may check a file; admins send it)."""
    policy = inv.surface.ops.policy(inv.workspace_id)
    view = import_modal(policy, private_metadata=metadata(c=inv.channel_id or None))
    inv.client.views_open(trigger_id=inv.trigger_id, view=view)


def _form(values: dict[str, Any]) -> tuple[str | None, ImportOptions, dict[str, str]]:
    """Read the form: the file's id, the options, and each field's problem."""
    errors: dict[str, str] = {}
    files = ((values.get("file") or {}).get(INPUT) or {}).get("files") or []
    file_id = str(files[0].get("id") or "") if files and isinstance(files[0], dict) else None
    if not file_id:
        errors["file"] = "Attach the CSV file of your customers."
    delay = None
    typed = entered(values, "delay")
    if typed:
        try:
            delay = parse_delay(typed)
        except InvalidInput as exc:
            errors["delay"] = exc.message
    when = "now" if entered(values, "when") == "now" else "delay"
    options = ImportOptions(
        method=cast(Method | None, entered(values, "method")),
        when=when,  # type: ignore[arg-type]
        delay=delay,
        consent="consent" in (entered(values, "consent") or []),
    )
    return file_id, options, errors


def _packed(file_id: str, options: ImportOptions, channel: str | None) -> str:
    delay = int(options.delay.total_seconds()) if options.delay is not None else None
    return metadata(
        f=file_id, m=options.method, w=options.when, d=delay, k=options.consent or None, c=channel
    )


def _unpacked(meta: dict[str, Any]) -> ImportOptions:
    delay = meta.get("d")
    return ImportOptions(
        method=meta.get("m"),
        when="now" if meta.get("w") == "now" else "delay",
        delay=timedelta(seconds=int(delay)) if delay is not None else None,
        consent=bool(meta.get("k")),
    )


def fetch_file(client: WebClient, file_id: str, user_id: str) -> tuple[str, bytes]:
    """Fetch a file a user attached: its name and at most MAX_FILE_BYTES + 1 bytes.

    Only the person's own upload: a file id from elsewhere (another channel the app is in)
    is refused, so nobody reads a file through the dry run that they couldn't see. The bot
    token goes only to Slack's own hosts (or the API's, when it is a stand-in).

    :raise InvalidInput: someone else's file, too big, not reachable, or not given (no
        files:read scope).
    """
    info = client.files_info(file=file_id)["file"]
    name = str(info.get("name") or "customers.csv")[:200]
    if info.get("user") != user_id:
        raise InvalidInput("Attach a file you uploaded yourself.", field="file")
    if int(info.get("size") or 0) > MAX_FILE_BYTES:
        raise InvalidInput(
            f"{name} is over {MAX_FILE_BYTES // 1_048_576} MB: import it in parts.", field="file"
        )
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    host = urlsplit(url).hostname or ""
    if not (host == "files.slack.com" or host == urlsplit(client.base_url).hostname):
        raise InvalidInput(f"Slack gave no address to read {name} from.", field="file")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {client.token}"})  # noqa: S310 (Slack's host, checked above)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=client.ssl))
    try:
        with opener.open(request, timeout=client.timeout) as answer:
            kind = str(answer.headers.get("Content-Type") or "")
            data = answer.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"{name} couldn't be read from Slack ({exc}).", field="file") from exc
    if kind.startswith("text/html"):  # Slack's sign-in page: the token may not read files
        raise InvalidInput(
            f"Slack didn't hand over {name}: the app needs the files:read permission "
            "(reinstall it).",
            field="file",
        )
    return name, data


def _checked(
    surface: Surface,
    client: WebClient,
    ws: int,
    file_id: str,
    user_id: str,
    options: ImportOptions,
) -> tuple[str, ImportFile, ImportPlan]:
    """Fetch, read and dry-run a file. :raise InvalidInput: the file or the options are wrong."""
    name, data = fetch_file(client, file_id, user_id)
    file = read_csv(data)
    link = f"{surface.app.settings.public_url.rstrip('/')}/r/{SAMPLE_TOKEN}"
    return name, file, surface.ops.imports.check(ws, file, options, sms_link=link)


def _show(client: WebClient, view_id: str, view: View) -> None:
    """Redraw the modal; one the person closed meanwhile is left closed."""
    try:
        client.views_update(view_id=view_id, view=view)
    except SlackApiError as exc:
        log.info("import modal not updated: %s", exc.response.get("error"))
    except (SlackClientError, OSError) as exc:  # the network: the next redraw may get through
        log.warning("import modal not updated: %s", exc)


@field_refusals(lambda exc, body: field_errors(exc, FORM_FIELDS, "file"))
def import_submitted(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Check the attached file: say so at once, then show the dry run in the same modal."""
    surface = services(context)
    view = body["view"]
    file_id, options, errors = _form(view["state"]["values"])
    if errors or file_id is None:
        ack(response_action="errors", errors=errors)
        return
    meta = read_metadata(view.get("private_metadata"))
    ack(response_action="update", view=note_view(TITLE, ":mag: Checking the file…"))
    ws = surface.workspace_id(context)
    user = actor_of(body)
    try:
        name, file, plan = _checked(surface, client, ws, file_id, user.id, options)
    except InvalidInput as exc:
        _show(
            client,
            view["id"],
            note_view(TITLE, f":warning: {escape(exc.message)}\nNothing was stored."),
        )
        return
    admin = surface.is_admin(client, context, user.id)
    packed = _packed(file_id, options, meta.get("c"))
    _show(client, view["id"], dry_run_view(name, file, plan, admin=admin, private_metadata=packed))


class _ModalProgress:
    """The modal while the rows are created: redrawn at each tenth, not at each batch."""

    def __init__(self, client: WebClient, view_id: str) -> None:
        self.client = client
        self.view_id = view_id
        self.shown = 0

    def show(self, done: int, total: int) -> None:
        step = max(1, total // PROGRESS_STEPS)
        if done < total and done // step == self.shown // step:
            return
        self.shown = done
        _show(self.client, self.view_id, note_view("Importing", progress_text(done, total)))


def _refused_confirm(exc: DomainError, request: Request) -> None:
    """A refusal after the confirm's ack: the modal says it (nothing more was sent)."""
    view_id = str((request.body.get("view") or {}).get("id") or "")
    text = f":warning: {escape(exc.message)}"
    if request.ack.response is None:
        request.ack(response_action="update", view=note_view(TITLE, text))
    else:
        _show(request.client, view_id, note_view(TITLE, text))


@refusals(_refused_confirm)
def import_confirmed(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Create the import's requests (admins): progress in the modal, then a summary in a DM."""
    surface = services(context)
    user = actor_of(body)
    view = body["view"]
    if not surface.is_admin(client, context, user.id):
        ack(response_action="update", view=note_view(TITLE, refusal(REFUSAL_WHAT)))
        return
    meta = read_metadata(view.get("private_metadata"))
    key = submission_key(body)
    ack(response_action="update", view=note_view("Importing", ":mag: Checking the file again…"))
    ws = surface.workspace_id(context)
    # Read and checked again: what is sent is what the workspace allows now.
    file_id = str(meta.get("f") or "")
    name, _, plan = _checked(surface, client, ws, file_id, user.id, _unpacked(meta))
    if not plan.ready:
        _show(client, view["id"], note_view(TITLE, "Nothing of this file can be sent any more."))
        return
    progress = _ModalProgress(client, view["id"])
    try:
        done = surface.ops.imports.confirm(
            ws, plan, user, file_name=name, key=key, on_progress=progress.show
        )
    except ImportFailed as exc:  # the modal and a DM name the import and its cancel button
        stopped = import_stopped(exc.import_id, name, exc.created)
        _show(client, view["id"], note_view("Import stopped", stopped.text))
        client.chat_postMessage(channel=user.id, **stopped.as_kwargs())
        return
    if done.canceled:
        text = (
            f":no_entry_sign: Import {done.import_id} was canceled while it ran: "
            f"{done.created:,} requests had been created, and canceled."
        )
        _show(client, view["id"], note_view("Import canceled", text))
        return
    span = f" (#{done.first_number}–#{done.last_number})" if done.first_number else ""
    skipped = plan.skipped_count + len(done.skipped)
    summary = import_summary(done.import_id, name, done.created, skipped, span)
    _show(client, view["id"], note_view("Import done", summary.text))
    client.chat_postMessage(channel=user.id, **summary.as_kwargs())


@refusals(to_clicker)
def import_cancel_clicked(
    body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """Cancel whatever the import still had to send (admins), and say so in its message."""
    surface = services(context)
    user = actor_of(body)
    if not surface.is_admin(client, context, user.id):
        respond(
            response_type="ephemeral",
            replace_original=False,
            **text_reply(refusal("cancel an import")).as_kwargs(),
        )
        return
    import_id = read_import_id(str(first_action(body).get("value") or ""))
    result = surface.ops.cancel_import(surface.workspace_id(context), import_id, user)
    text = (
        f":no_entry_sign: Import {import_id} canceled by <@{user.id}>: "
        f"{len(result.changed):,} requests canceled"
        + (f", {len(result.refused):,} had already gone." if result.refused else ".")
    )
    respond(replace_original=True, **text_reply(text).as_kwargs())


def register(bolt: App, registered: Registered) -> None:
    """Listen to the import form, its dry run's confirm, and the summary's cancel button."""
    bolt.view(IMPORT_MODAL)(import_submitted)
    bolt.view(IMPORT_CONFIRM)(import_confirmed)
    bolt.action(IMPORT_CANCEL)(import_cancel_clicked)
    registered.views += [IMPORT_MODAL, IMPORT_CONFIRM]
    registered.actions.append(IMPORT_CANCEL)
