"""CSV export of the history: every matching request, streamed with constant memory.

Pure of Slack and of the terminal: Slack and the CLI hand in a binary file and a progress
callback, and both get the same bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Literal
from zoneinfo import ZoneInfo

from bot.domain.channels import channels_label
from bot.usecases import history
from bot.usecases.history import BATCH, ExportRow, HistoryFilter
from store.db import Database

Separator = Literal[",", ";"]
SEPARATORS: tuple[Separator, ...] = (",", ";")
BOM = b"\xef\xbb\xbf"

HEADERS = (
    "Number",
    "Customer name",
    "Email",
    "Phone",
    "Sent via",
    "Sent by",
    "Status",
    "Created",
    "Sent",
    "Type",
    "Reference",
    "Retries",
    "Last error",
    "Delivered at",
    "Opened at",
    "Clicked at",
    # Added at the end (issue 13), so scripts reading the columns by position still work.
    "Origin",
    "Consent",
)

# OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_SET = frozenset(FORMULA_TRIGGERS)


# Progress is reported every this many rows at least, so a small export is not chatty.
MIN_PROGRESS_EVERY = 1000
PROGRESS_STEPS = 20


@dataclass(frozen=True)
class ExportOptions:
    """How the CSV is written: separator, Excel's byte order mark, the timezone of its times."""

    separator: Separator = ","
    bom: bool = False
    timezone: str = "UTC"


def neutralise(cell: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with a single quote (OWASP).

    Applied to every text cell, phone numbers included (`'+33610203040`): one rule for every
    column is easier to trust than a list of columns thought to be safe.
    """
    if cell[:1] in _TRIGGER_SET:
        return "'" + cell
    return cell


def progress_every(total: int) -> int:
    """Return how many rows go between two progress reports (about 20 reports in all)."""
    return max(MIN_PROGRESS_EVERY, -(-total // PROGRESS_STEPS))


def write_csv(
    db: Database,
    workspace_id: int,
    f: HistoryFilter,
    out: BinaryIO,
    *,
    options: ExportOptions = ExportOptions(),  # noqa: B008 (frozen, shared safely)
    progress: Callable[[int], None] | None = None,
    every: int = MIN_PROGRESS_EVERY,
    batch: int = BATCH,
) -> int:
    """Write every request matching the filter to `out` as CSV, newest first; return the rows.

    Rows are read in keyset batches of `batch` and written as they come, so memory stays
    flat whatever the size; `progress(rows_so_far)` is called every `every` rows.
    """
    if options.bom:
        out.write(BOM)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        writer = csv.writer(text, delimiter=options.separator, lineterminator="\r\n")
        writer.writerow(HEADERS)
        rows = 0
        # Closed at once on a failure, so the read session does not wait for the collector.
        with closing(history.export_rows(db, workspace_id, f, batch=batch)) as found:
            for line in _csv_lines(found, ZoneInfo(options.timezone)):
                writer.writerow(line)
                rows += 1
                if progress is not None and rows % every == 0:
                    progress(rows)
        text.flush()
    finally:
        # Hand the caller's file back open: the wrapper must not close it.
        text.detach()
    return rows


def _csv_lines(rows: Iterable[ExportRow], zone: ZoneInfo) -> Iterator[tuple[object, ...]]:
    """Turn exported rows into CSV lines: labels, local times, neutralised text cells."""

    def when(value: datetime | None) -> str:
        # ISO-like, in the workspace's time, without offset so spreadsheets read it as a date.
        if value is None:
            return ""
        return value.astimezone(zone).isoformat(" ", "seconds")[:19]

    labels: dict[str, str] = {}  # a handful of channel values, labelled once each
    for r in rows:
        cells = [
            r.customer_name,
            r.email or "",
            r.phone or "",
            labels.get(r.channel) or labels.setdefault(r.channel, channels_label(r.channel)),
            r.created_by_name or r.created_by,
            r.status,
            r.review_type,
            r.reference or "",
            r.last_error or "",
        ]
        # Inline `neutralise` over every text cell: a call per cell costs a tenth of the
        # export's time at a million rows.
        name, email, phone, via, by, status, kind, ref, error = [
            "'" + c if c[:1] in _TRIGGER_SET else c for c in cells
        ]
        yield (
            r.number,
            name,
            email,
            phone,
            via,
            by,
            status,
            when(r.created_at),
            when(r.sent_at),
            kind,
            ref,
            r.retries,
            error,
            when(r.delivered_at),
            when(r.opened_at),
            when(r.clicked_at),
            r.origin or "",  # our own word (slack, cli, ...): never a formula
            when(r.consent_at),
        )


def parse_separator(value: str) -> Separator:
    """Read a separator given by a person: `,` or `;` (also `comma`, `semicolon`).

    :raise ValueError: anything else.
    """
    cleaned = value.strip().lower()
    named = {"comma": ",", "semicolon": ";"}.get(cleaned, cleaned)
    for sep in SEPARATORS:
        if named == sep:
            return sep
    raise ValueError(f"'{value}' is not a separator: use , or ;.")
