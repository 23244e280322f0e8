"""Block Kit of `/reviews import`: the file form, the dry run, the progress, the summary."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.domain.import_file import MAX_FILE_BYTES, MAX_ROWS, ImportFile
from bot.domain.policy import WorkspacePolicy
from bot.usecases.import_plan import SKIP_KINDS, ImportPlan
from handlers.blocks.common import INPUT, Reply, dicts, md, option
from handlers.blocks.inputs import consent_input, method_input
from handlers.blocks.sms_estimate import format_price
from handlers.text import clip, escape

IMPORT_MODAL = "import_file"
IMPORT_CONFIRM = "import_confirm"
IMPORT_CANCEL = "import_cancel"
SHOWN_PER_KIND = 5
SKIP_TITLES = {
    "invalid": "Invalid",
    "duplicate": "Duplicate rows in the file",
    "cooldown": "Within the cooldown",
    "opted_out": "Opted out",
    "erased": "Erased customers",
}


def import_modal(policy: WorkspacePolicy, *, private_metadata: str = "") -> View:
    """The form: a CSV file, and the send form's method and time for all its rows."""
    delay = "none" if policy.delay == "0" else policy.delay
    whens = [
        option("Now, in the send window", "now"),
        option(f"After the usual delay ({delay})", "delay"),
    ]
    blocks: list[Block] = [
        _file_block(),
        method_input(policy.method),
        InputBlock(
            block_id="when",
            label="When",
            element=RadioButtonsElement(action_id=INPUT, options=whens, initial_option=whens[1]),
            hint=(
                f"Always inside the send window ({policy.send_window}, {policy.timezone}), "
                "spread out so a big file is not one wave. A row's send_at wins."
            ),
        ),
        InputBlock(
            block_id="delay",
            label="Other delay",
            optional=True,
            element=PlainTextInputElement(action_id=INPUT, placeholder="2h · 1d", max_length=20),
            hint='Instead of the usual delay, with "After the usual delay".',
        ),
    ]
    if policy.require_consent:
        blocks.append(consent_input("The customers agreed to be contacted"))
    return View(
        type="modal",
        callback_id=IMPORT_MODAL,
        title="Import customers",
        submit="Check the file",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=blocks,
    )


def _file_block() -> InputBlock:
    return InputBlock(
        block_id="file",
        label="Customer list (CSV)",
        element=FileInputElement(action_id=INPUT, filetypes=["csv", "txt"], max_files=1),
        hint=(
            "Columns name, phone, email, reference, type, language, send_at (or nom, "
            "téléphone, e-mail; namn, telefon, e-post), separated by , or ; "
            f"UTF-8 or Windows-1252, at most {MAX_FILE_BYTES // 1_048_576} MB and "
            f"{MAX_ROWS:,} rows. You see what will be sent before anything is."
        ),
    )


def note_view(title: str, text: str, *, private_metadata: str = "") -> View:
    """A modal that only says something ("Checking the file…", a refusal, the end)."""
    return View(
        type="modal",
        title=clip(title, 24),
        close="Close",
        private_metadata=private_metadata,
        blocks=[SectionBlock(text=md(text))],
    )


def dry_run_view(
    name: str, file: ImportFile, plan: ImportPlan, *, admin: bool, private_metadata: str
) -> View:
    """What the import would do: rows to send, skipped rows by kind, the SMS cost; confirm."""
    ready = len(plan.ready)
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"{name}: {plan.total:,} rows", 150)),
        SectionBlock(
            text=md(
                f"*{ready:,}* will be sent · *{plan.skipped_count:,}* skipped\n"
                f"SMS: {plan.segments:,} segments, est. "
                f"{format_price(plan.cost)} {escape(plan.currency)}"
            )
        ),
    ]
    if file.ignored:
        unused = ", ".join(escape(c) for c in file.ignored[:10])
        blocks.append(ContextBlock(elements=[md(f"Columns not used: {unused}")]))
    if plan.ready:
        lines = [
            f"line {r.line}: {escape(r.plan.name)} by {'+'.join(r.plan.channels)}"
            for r in plan.ready[:SHOWN_PER_KIND]
        ]
        blocks.append(SectionBlock(text=md("*First rows to send*\n" + "\n".join(lines))))
    for kind in SKIP_KINDS:
        rows = plan.skipped[kind]
        if not rows:
            continue
        lines = [f"line {s.line}: {escape(clip(s.reason, 200))}" for s in rows[:SHOWN_PER_KIND]]
        more = f"\n…and {len(rows) - SHOWN_PER_KIND:,} more" if len(rows) > SHOWN_PER_KIND else ""
        title = f"*{SKIP_TITLES[kind]}: {len(rows):,}*"
        blocks.append(SectionBlock(text=md(f"{title}\n" + "\n".join(lines) + more)))
    if not admin:
        blocks.append(ContextBlock(elements=[md("Only an admin can send an import.")]))
    can_send = admin and ready > 0
    return View(
        type="modal",
        callback_id=IMPORT_CONFIRM,
        title="Check the import",
        submit=clip(f"Send {ready:,} requests", 24) if can_send else None,
        close="Cancel" if can_send else "Close",
        private_metadata=private_metadata,
        blocks=blocks,
    )


def progress_text(done: int, total: int) -> str:
    """Say how far an import has got."""
    share = done * 100 // total if total else 100
    return f":hourglass_flowing_sand: Creating the requests: {done:,} of {total:,} ({share}%)…"


def import_summary(import_id: int, name: str, created: int, skipped: int, span: str) -> Reply:
    """The direct message after an import: what was created, and one button to cancel it all."""
    text = (
        f":white_check_mark: Import {import_id} ({escape(name)}): {created:,} review requests "
        f"created{span}, {skipped:,} rows skipped. `/reviews list import:{import_id}` shows them."
    )
    return _with_cancel(import_id, text)


def import_stopped(import_id: int, name: str, created: int) -> Reply:
    """The direct message when an import stopped partway: what it created, and its cancel."""
    text = (
        f":warning: Import {import_id} ({escape(name)}): {created:,} review requests created "
        "before it stopped. Cancel them with the button below; "
        f"`/reviews list import:{import_id}` shows them."
    )
    return _with_cancel(import_id, text)


def _with_cancel(import_id: int, text: str) -> Reply:
    """A message about an import, with one button that cancels all of it."""
    cancel = ButtonElement(
        text="Cancel the whole import",
        action_id=IMPORT_CANCEL,
        value=str(import_id),
        style="danger",
        confirm=ConfirmObject(
            title="Cancel the import?",
            text=f"Every request of import {import_id} not sent yet is canceled for good.",
            confirm="Cancel them",
            deny="Keep them",
        ),
    )
    blocks: list[Block] = [SectionBlock(text=md(text)), ActionsBlock(elements=[cancel])]
    return Reply(text.replace("`", ""), dicts(blocks))
