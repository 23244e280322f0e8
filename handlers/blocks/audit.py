"""Block Kit for `/reviews audit`: one page of the audit trail, newest first, with Next."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    SectionBlock,
)

from bot.usecases.history import Cursor
from handlers.blocks.common import Reply, dicts, md
from handlers.text import clip, escape, slack_date, user_mention

AUDIT_NEXT = "audit_next"
DETAIL_CHARS = 300  # one entry's detail, cut: the CLI shows it whole


@dataclass(frozen=True)
class AuditState:
    """Where a page of the trail is: the query as typed and the entry it continues after."""

    query: str = ""
    after: Cursor | None = None

    def encode(self) -> str:
        return json.dumps({"q": self.query, "a": self.after.encode() if self.after else None})

    @classmethod
    def decode(cls, value: str) -> AuditState:
        """Read a state made by `encode`.

        :raise ValueError: it was not made by `encode`.
        """
        data = json.loads(value)
        after = data.get("a")
        return cls(str(data.get("q") or ""), Cursor.decode(after) if after else None)


@dataclass(frozen=True)
class AuditLine:
    """One entry as the page shows it (the handler reads the row into this)."""

    at: Any
    actor_id: str
    actor_name: str
    origin: str
    action: str
    target: str
    detail: dict[str, Any]


def describe_detail(action: str, detail: dict[str, Any]) -> str:
    """Say an entry's detail in one line of plain words (escaped by the caller)."""
    if action == "settings" and set(detail) == {"old", "new"}:
        return f"{_shown(detail['old'])} → {_shown(detail['new'])}"
    return ", ".join(f"{key}: {_shown(value)}" for key, value in detail.items())


def _shown(value: Any) -> str:
    if value in (None, "", [], {}):
        return "(empty)"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _line(entry: AuditLine, tz: str) -> str:
    who = user_mention(entry.actor_id, entry.actor_name)
    head = (
        f"{slack_date(entry.at, tz=tz)} · {who} ({escape(entry.origin)}) · *{escape(entry.action)}*"
    )
    if entry.target:
        head += f" `{escape(clip(entry.target, 100))}`"
    said = describe_detail(entry.action, entry.detail)
    return head + (f"\n{escape(clip(said, DETAIL_CHARS))}" if said else "")


def audit_reply(
    entries: Sequence[AuditLine], *, state: AuditState, next_after: Cursor | None, tz: str
) -> Reply:
    """Build one page of the trail: its entries and, when there are older ones, Next."""
    described = f" matching `{escape(state.query)}`" if state.query else ""
    title = f":ledger: *Audit trail*{described}"
    blocks: list[Block] = [SectionBlock(text=md(title))]
    if not entries:
        blocks.append(SectionBlock(text=md("No audited action matches.")))
    for entry in entries:
        blocks.append(SectionBlock(text=md(_line(entry, tz))))
    if next_after is not None:
        value = AuditState(state.query, next_after).encode()
        blocks.append(
            ActionsBlock(elements=[ButtonElement(text="Next", action_id=AUDIT_NEXT, value=value)])
        )
    else:
        blocks.append(ContextBlock(elements=[md("End of the trail.")]))
    text = f"Audit trail: {len(entries)} entries" + (" (more with Next)" if next_after else "")
    return Reply(text, dicts(blocks))
