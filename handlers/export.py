"""`/reviews export` and the App Home's export button: a CSV of the history in the admin's DM.

The CSV is written to a temporary file (bot.export, constant memory) while a DM message shows
the progress, then streamed to Slack with the files v2 flow.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.domain.errors import InvalidInput
from bot.export import (
    ExportOptions,
    Separator,
    parse_separator,
    progress_every,
    write_csv,
)
from bot.slack_files import upload_file
from bot.usecases import history
from bot.usecases.actors import Actor
from bot.usecases.history import HistoryFilter
from handlers.blocks.common import Reply, text_reply
from handlers.blocks.home import HOME_EXPORT
from handlers.blocks.listing import describe_filter
from handlers.blocks.report import export_done, export_failed, export_progress, export_started_reply
from handlers.errors import anywhere, refusals
from handlers.invocation import Invocation
from handlers.parsing import parse_list_query
from handlers.permissions import refusal
from handlers.surface import Registered, Surface, services

log = logging.getLogger(__name__)

REFUSAL_WHAT = "export the requests"


@dataclass(frozen=True)
class ExportRequest:
    """What to export and how, as read from `/reviews export [,|;] [bom] [filters]`."""

    separator: Separator = ","
    bom: bool = False
    query: str = ""


def parse_export_args(text: str) -> ExportRequest:
    """Read the separator (`,` or `;` first, or `sep:;` anywhere), `bom`, and the filters.

    :raise InvalidInput: a `sep:` that is neither `,` nor `;`.
    """
    words = (text or "").split()
    separator: Separator = ","
    bom = False
    # The separator and `bom` lead, in either order; what follows is the list filter.
    while words and (words[0] in (",", ";") or words[0].lower() == "bom"):
        word = words.pop(0)
        if word.lower() == "bom":
            bom = True
        else:
            separator = parse_separator(word)
    rest: list[str] = []
    for word in words:
        if word.lower().startswith("sep:"):
            try:
                separator = parse_separator(word[4:])
            except ValueError as exc:
                raise InvalidInput(str(exc), field="separator") from exc
        else:
            rest.append(word)
    return ExportRequest(separator=separator, bom=bom, query=" ".join(rest))


@refusals(anywhere)
def home_export(
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    respond: Respond,
) -> None:
    """Export every request to the admin who pressed the Home tab button, in a direct message."""
    surface = services(context)
    user_id = str((body.get("user") or {}).get("id", ""))
    workspace_id = surface.workspace_id(context)
    if not surface.is_admin(client, context, user_id):
        answer = text_reply(refusal(REFUSAL_WHAT))
        if body.get("response_url"):  # the button sat in a message
            respond(response_type="ephemeral", replace_original=False, **answer.as_kwargs())
            return
        # No response_url from the Home tab: the refusal goes to the user's DM.
        client.chat_postMessage(channel=_open_dm(client, user_id), **answer.as_kwargs())
        return
    timezone = surface.ops.policy(workspace_id).timezone
    export_to_dm(
        surface,
        client,
        workspace_id=workspace_id,
        user_id=user_id,
        f=HistoryFilter(),
        options=ExportOptions(timezone=timezone),
    )


def register(bolt: App, registered: Registered) -> None:
    """Listen to the App Home's export button (the /reviews subcommand is `run_command`)."""
    bolt.action(HOME_EXPORT)(home_export)
    registered.actions.append(HOME_EXPORT)


def run_command(inv: Invocation) -> None:
    """`/reviews export`: refuse non-admins; else say where the file goes, then export.

    :raise InvalidInput: a bad separator or filter (answered by the command's dispatcher).
    """
    surface = inv.surface
    if not surface.permissions.is_admin(inv.client, inv.workspace_id, inv.team_id, inv.actor.id):
        inv.reply(text_reply(refusal(REFUSAL_WHAT)))
        return
    asked = parse_export_args(inv.args)
    policy = surface.ops.policy(inv.workspace_id)
    query = parse_list_query(
        asked.query, timezone=policy.timezone, user_id=inv.actor.id, region=policy.region
    )
    inv.reply(export_started_reply(describe_filter(query.filter, tz=policy.timezone)))
    rows = export_to_dm(
        surface,
        inv.client,
        workspace_id=inv.workspace_id,
        user_id=inv.actor.id,
        f=query.filter,
        options=ExportOptions(separator=asked.separator, bom=asked.bom, timezone=policy.timezone),
    )
    inv.reply(
        text_reply(
            f":page_facing_up: Sent you {rows:,} requests as a CSV file in a direct message."
        )
    )


class _ProgressMessage:
    """The DM message that follows an export: progress, then done or stopped."""

    def __init__(self, client: WebClient, dm: str, total: int, description: str) -> None:
        self.client = client
        self.dm = dm
        self.total = total
        self.description = description
        self.written = 0  # the last count shown, so a failure can say how far it got
        posted = client.chat_postMessage(
            channel=dm, **export_progress(0, total, description).as_kwargs()
        )
        self.ts = str(posted["ts"])

    def _update(self, reply: Reply) -> None:
        self.client.chat_update(channel=self.dm, ts=self.ts, **reply.as_kwargs())

    def show(self, rows: int) -> None:
        self.written = rows
        self._update(export_progress(rows, self.total, self.description))

    def failed(self) -> None:
        self._update(export_failed(self.written, self.description))

    def done(self, rows: int, timezone: str) -> None:
        self._update(export_done(rows, self.description, timezone))


def export_to_dm(
    surface: Surface,
    client: WebClient,
    *,
    workspace_id: int,
    user_id: str,
    f: HistoryFilter,
    options: ExportOptions,
) -> int:
    """Write the CSV to a temporary file, showing progress in the DM, and post it there.

    :raise SlackApiError: Slack refused a call (the DM message says the export stopped).
    """
    db = surface.app.db
    description = describe_filter(f, tz=options.timezone)
    total = history.count_matching(db, workspace_id, f)
    dm = _open_dm(client, user_id)
    progress = _ProgressMessage(client, dm, total, description)
    stamp = surface.app.clock.now().astimezone(ZoneInfo(options.timezone))
    filename = f"review-requests-{stamp:%Y%m%d-%H%M}.csv"
    try:
        with tempfile.TemporaryDirectory(prefix="reviewops-export-") as folder:
            path = Path(folder) / filename
            with path.open("wb") as out:
                rows = write_csv(
                    db,
                    workspace_id,
                    f,
                    out,
                    options=options,
                    progress=progress.show,
                    every=progress_every(total),
                )
            progress.written = rows
            upload_file(
                client,
                channel=dm,
                path=path,
                title="Review requests",
                initial_comment=f"{rows:,} review requests ({description}).",
            )
    except (SlackApiError, SlackRequestError, OSError):
        progress.failed()
        raise
    progress.done(rows, options.timezone)
    actor = Actor(user_id)
    surface.ops.audit.note(
        workspace_id, actor, "export", detail={"rows": rows, "filter": description}
    )
    log.info("exported %d requests of workspace %d for %s", rows, workspace_id, user_id)
    return rows


def _open_dm(client: WebClient, user_id: str) -> str:
    return str(client.conversations_open(users=user_id)["channel"]["id"])
