"""CSV imports: the dry run, then the requests created in batches, one import id on each.

`check` plans every row with the send form's rules and writes nothing (bot/usecases/import_plan.py).
`confirm` records the import (`import_batch`, audited) and creates its ready rows in batches of
`BATCH`, each batch one transaction that checks its rows again and stops if the import was
canceled (bot/usecases/import_write.py): numbers, contacts, requests, first messages, `created`
events through the journal (`Journal.open_many`), and `created` told to the notifier. Progress
is told through `on_progress(done, total)` (a failing one is logged, never fatal); a failure
partway raises `ImportFailed` naming the import. `cancel_import` (bot/usecases/lifecycle.py)
marks the import canceled, then cancels whatever of it still waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.errors import DomainError, InvalidInput
from bot.domain.import_file import ImportFile, ImportRow
from bot.domain.policy import WorkspacePolicy
from bot.usecases import event_log, loading, once
from bot.usecases.actors import Actor
from bot.usecases.audit import record_audit
from bot.usecases.import_plan import (
    OVERRIDE_HINT,
    SPREAD_PER_SECOND,
    ImportOptions,
    ImportPlan,
    Known,
    ReadyRow,
    SkipKind,
    Skipped,
    error_text,
    row_input,
    sms_segments_of,
)
from bot.usecases.import_write import IMPORTING, Batch, write_batch
from bot.usecases.inputs import RequestCreate
from bot.usecases.planning import (
    OptOuts,
    Typed,
    cooldown_conflict,
    email_free,
    make_plan,
    opt_outs,
    read_contact,
    require_consent,
    wanted_time,
)
from bot.usecases.services import UseCase
from store import imports as import_store
from store.integration_models import ImportBatch

BATCH = 1_000  # requests per transaction
SAMPLE_LINK = "https://reviews.example.com/r/" + "x" * 24
Progress = Callable[[int, int], None]
log = logging.getLogger(__name__)


@dataclass
class ImportDone:
    """What an import created, what it skipped since the dry run, whether it was canceled."""

    import_id: int
    created: int
    first_number: int | None
    last_number: int | None
    skipped: list[tuple[SkipKind, Skipped]] = field(default_factory=list)
    canceled: bool = False  # an admin canceled it while its batches were being written

    def add(self, batch: Batch) -> None:
        if batch.numbers:
            if self.first_number is None:
                self.first_number = batch.numbers[0]
            self.last_number = batch.numbers[-1]
        self.created += len(batch.numbers)
        self.skipped += batch.skipped


class ImportFailed(DomainError):
    """An import stopped partway: what it created stays (cancel it by its id)."""

    def __init__(self, import_id: int, created: int) -> None:
        super().__init__(f"Import {import_id}: {created:,} requests created before it stopped.")
        self.import_id = import_id
        self.created = created


class Importing(UseCase):
    """Check a customer list, then create its requests."""

    def check(
        self,
        workspace_id: int,
        file: ImportFile,
        options: ImportOptions,
        *,
        sms_link: str = SAMPLE_LINK,
    ) -> ImportPlan:
        """Plan every row of a file; store nothing.

        :raise InvalidInput: the whole import is refused (consent required and not given).
        """
        now = self.clock.now()
        with self.db.read() as session:
            policy = loading.policy(session, workspace_id)
            require_consent(policy, RequestCreate(consent=options.consent))
            plan = ImportPlan(total=len(file.rows), currency=policy.currency)
            parsed = self._typed_rows(file.rows, options, policy, plan, now)
            since = now - timedelta(days=policy.cooldown_days) if policy.cooldown_days > 0 else None
            key = self.journal.suppression_key
            addresses = [(t.phone, t.email) for _, _, t in parsed]
            known = Known(session, workspace_id, addresses, key, since)
        self._decide(plan, parsed, known, policy, now, sms_link)
        plan.segments = sum(r.segments for r in plan.ready)
        plan.cost = policy.sms_price * plan.segments
        return plan

    def _decide(
        self,
        plan: ImportPlan,
        parsed: Sequence[tuple[ImportRow, RequestCreate, Typed]],
        known: Known,
        policy: WorkspacePolicy,
        now: datetime,
        sms_link: str,
    ) -> None:
        """Put each readable row among the ready or the skipped, in the file's order."""
        seen: dict[str, int] = {}  # address or contact id -> the line that used it first
        spread = 0
        for row, data, typed in parsed:
            addresses = [a for a in (typed.phone, (typed.email or "").lower()) if a]
            if first := next((seen[a] for a in addresses if a in seen), None):
                plan.skip("duplicate", row, f"Same customer as line {first}.")
                continue
            seen.update(dict.fromkeys(addresses, row.line))
            opted = opt_outs(known, typed.phone, typed.email, self.journal.suppression_key)
            try:
                wanted = wanted_time(data, policy, now)
                if data.when != "at":
                    wanted += timedelta(seconds=spread / SPREAD_PER_SECOND)
                row_plan = make_plan(policy, data, typed, opted, wanted)
            except InvalidInput as exc:
                plan.skip(_refusal_kind(opted), row, error_text(exc))
                continue
            contact = known.contact_of(row_plan)
            if contact is not None:
                if first := seen.get(f"contact:{contact.id}"):
                    plan.skip("duplicate", row, f"Same customer as line {first}.")
                    continue
                seen[f"contact:{contact.id}"] = row.line
                previous = known.recent.get(contact.id or 0)
                if (conflict := cooldown_conflict(previous, row_plan, policy)) is not None:
                    plan.skip("cooldown", row, conflict.message.removesuffix(OVERRIDE_HINT))
                    continue
            free = email_free(known, row_plan.email, contact)
            segments = sms_segments_of(row_plan, data, policy, sms_link)
            contact_id = contact.id if contact else None
            plan.ready.append(ReadyRow(row.line, data, row_plan, contact_id, free, segments))
            spread += data.when != "at"

    def _typed_rows(
        self,
        rows: Sequence[ImportRow],
        options: ImportOptions,
        policy: WorkspacePolicy,
        plan: ImportPlan,
        now: datetime,
    ) -> list[tuple[ImportRow, RequestCreate, Typed]]:
        """Read each row's fields and contact; skip the invalid ones, saying why."""
        region = policy.region or self.default_region
        parsed = []
        for row in rows:
            try:
                data = row_input(row, options, policy, now)
                typed = read_contact(data, region)
                if typed.phone is None and typed.email is None:
                    raise InvalidInput("No phone number or email address.", field="phone")
            except InvalidInput as exc:
                plan.skip("invalid", row, error_text(exc))
                continue
            parsed.append((row, data, typed))
        return parsed

    def confirm(
        self,
        workspace_id: int,
        plan: ImportPlan,
        actor: Actor,
        *,
        file_name: str,
        key: str | None = None,
        on_progress: Progress | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> ImportDone:
        """Record the import, then create its ready rows in batches; return what was created.

        `on_start(import_id)` is told once the import is recorded, before its first batch.

        Each batch is checked again as it is written (bot/usecases/import_write.py): rows
        asked, opted out or erased since the dry run are skipped, and a cancel stops the rest.
        `key` names the delivery (a Slack submission): a second one creates nothing. A failing
        `on_progress` (a surface's redraw) is logged and the import goes on.

        :raise AlreadyCreated: this delivery already started the import.
        :raise ImportFailed: it stopped partway (its id and how many were created are told).
        """
        import_id = self._start(workspace_id, plan, actor, file_name, key)
        done = ImportDone(import_id, 0, None, None)
        if on_start is not None:
            on_start(import_id)
        total = len(plan.ready)
        try:
            for start in range(0, total, BATCH):
                rows = plan.ready[start : start + BATCH]
                with self.db.write() as session:
                    now = self.clock.now()
                    batch = write_batch(
                        self.journal, session, workspace_id, import_id, rows, actor, now
                    )
                if batch.stopped:
                    done.canceled = True
                    break
                done.add(batch)
                self._told(on_progress, min(start + len(rows), total), total)
        except Exception as exc:
            self._finish(workspace_id, import_id, "failed")
            log.exception("import %s stopped after %s requests", import_id, done.created)
            raise ImportFailed(import_id, done.created) from exc
        except BaseException:  # interrupted (Ctrl-C): marked, then let go
            self._finish(workspace_id, import_id, "failed")
            raise
        self._finish(workspace_id, import_id, "done")
        with self.db.read() as session:
            team = loading.workspace(session, workspace_id).team_id
        event_log.import_finished(
            import_id, team, done.created, len(done.skipped), canceled=done.canceled
        )
        if done.created and any(r.plan.due_at <= self.clock.now() for r in plan.ready):
            self.wake()
        return done

    @staticmethod
    def _told(on_progress: Progress | None, done: int, total: int) -> None:
        """Tell the progress; a surface that can't show it (Slack unreachable) stops nothing."""
        if on_progress is None:
            return
        try:
            on_progress(done, total)
        except Exception:  # noqa: BLE001 - the import goes on; the next call may succeed
            log.warning("import progress not shown (%s of %s)", done, total, exc_info=True)

    def _start(
        self, workspace_id: int, plan: ImportPlan, actor: Actor, file_name: str, key: str | None
    ) -> int:
        now = self.clock.now()
        with self.db.write() as session:
            once.claim(session, workspace_id, key, now)
            batch = ImportBatch(
                workspace_id=workspace_id,
                file_name=file_name[:200],
                rows=plan.total,
                created_by=actor.id,
                created_by_name=actor.name,
                created_at=now,
                state="importing",
            )
            session.add(batch)
            session.flush()
            assert batch.id is not None
            detail = {
                "file": batch.file_name,
                "rows": plan.total,
                "to_send": len(plan.ready),
                "skipped": {k: len(v) for k, v in plan.skipped.items() if v},
            }
            target = f"import {batch.id}"
            record_audit(session, workspace_id, actor, "import", now, target=target, detail=detail)
            return batch.id

    def _finish(self, workspace_id: int, import_id: int, state: str) -> None:
        """Mark the import done or failed (a canceled one stays canceled)."""
        try:
            with self.db.write() as session:
                batch = import_store.lock_import(session, workspace_id, import_id)
                if batch is not None and batch.state == IMPORTING:
                    batch.state = state
                    session.add(batch)
        except Exception:  # noqa: BLE001 - the database may be what failed: the cause is raised
            if state != "failed":
                raise
            log.warning("import %s not marked failed", import_id, exc_info=True)


def _refusal_kind(opted: OptOuts) -> SkipKind:
    """Say why a row that can't be sent is skipped: an erased customer, an opt-out, or its data."""
    if opted.erased:
        return "erased"
    return "opted_out" if opted.phone or opted.email else "invalid"
