"""The /reviews help message: every subcommand with examples."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    SectionBlock,
)

from handlers.blocks.common import Reply, dicts, md
from handlers.text import escape

HELP_LINES = (
    (
        "send",
        "`/reviews send` opens the form. Quick form:\n"
        "`/reviews send Jane Doe +33 6 10 20 30 40`\n"
        "`/reviews send Jane Doe jane@example.com via:email ref:A-1042 type:product`\n"
        "`/reviews send Jane +46 70 123 45 67 in:2h` · `... at:tomorrow 10:00` · "
        "`... at:2026-12-01 10:00` (workspace timezone) · "
        "`... lang:sv` · `... force:yes` (send even if invited recently)",
    ),
    (
        "list",
        "`/reviews list` newest first. Filters: `status:failed` `via:sms` `by:@jane` `by:me` "
        "`from:2026-11-01` `to:2026-11-30` `type:product` `ref:A-1042` `import:3` and any name, email or phone:\n"
        "`/reviews list status:queued,paused via:whatsapp jane`\n"
        "`/reviews list orders` what the shops' order events (Shopify, Stripe) did, and why an "
        "order was skipped",
    ),
    (
        "show",
        "`/reviews show #42` every detail of a request and its messages\n"
        "`/reviews show customer jane@example.com` · `... customer 06 10 20 30 40` · "
        "`... customer Jane Doe` one customer: opt-outs, every request and message; "
        "its Export data button sends admins everything held about them as JSON",
    ),
    (
        "pause / resume / cancel",
        "`/reviews pause #42 43` · `/reviews resume #42` · "
        "`/reviews cancel #40-45`\n`/reviews cancel all queued` (admins; asks first)\n"
        "In `/reviews list`, tick rows and press Pause, Resume or Cancel selected",
    ),
    (
        "edit",
        "`/reviews edit #42` corrects the name, phone, email or reference until it goes out",
    ),
    (
        "delete",
        "`/reviews delete #42` erases a request's customer details and messages for good "
        "(admins; asks first)",
    ),
    (
        "stats / export",
        "`/reviews stats` the last 7 days (or `30d`, `from:2026-11-01 to:2026-11-30`): sent, "
        "delivered, opened, clicked, failed, per channel and per sender, and the SMS cost; "
        "add `chart` for a chart in a direct message\n"
        "`/reviews export ; bom status:failed` every matching request as a CSV file in a direct "
        "message (admins; `,` or `;` first, `bom` for Excel, then any list filter)",
    ),
    (
        "import",
        "`/reviews import` a CSV of customers (name, phone, email, reference, type, language, "
        "send_at; `,` or `;`): first what will be sent and what is skipped and why, then an "
        "admin sends them all · `/reviews list import:3` one import's requests",
    ),
    (
        "settings",
        "`/reviews settings` opens the settings form (admins) · `/reviews settings show` "
        "lists them · `/reviews settings help` says what each means · "
        '`/reviews settings set delay=1d send_window="mon-fri 09:00-19:00"` (admins)',
    ),
    (
        "audit",
        "`/reviews audit` who changed settings, canceled all, deleted, exported or decided "
        "what, when and from where (admins) · filters: `by:@jane` `action:settings` "
        "`from:2026-11-01` `to:2026-11-30`",
    ),
    (
        "apikey",
        "`/reviews apikey create zapier` a key to the REST API, its secret shown once · "
        "`/reviews apikey list` · `/reviews apikey revoke 3` (admins)",
    ),
    (
        "workflows",
        "In Workflow Builder, add the step *Send a review request* (reviewops) to send one from "
        "a form, an emoji reaction or a message in a channel; the next steps get its number, "
        "status and a link",
    ),
    ("help", "`/reviews help` this message"),
)


def help_reply(unknown: str | None = None) -> Reply:
    """Describe every subcommand with examples; say so first when the subcommand was unknown."""
    blocks: list[Block] = []
    intro = "*/reviews* asks customers for reviews by SMS, WhatsApp and email."
    if unknown:
        intro = f"I don't know `{escape(unknown[:40])}`. Here is what `/reviews` can do:"
    blocks.append(SectionBlock(text=md(intro)))
    for name, text in HELP_LINES:
        blocks.append(SectionBlock(text=md(f"*{name}*\n{text}")))
    fallback = (
        intro
        + " Subcommands: send, list, show, edit, pause, resume, cancel, delete, stats, export, import, settings, audit, apikey, help."
    )
    return Reply(fallback, dicts(blocks))
