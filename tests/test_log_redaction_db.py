"""A database error never carries a customer's data into a log: statement values are hidden
at the source (hide_parameters) and the row values PostgreSQL quotes in a constraint error are
redacted by the log filter, traceback included."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from bot.clock import FrozenClock
from bot.log_redaction import REDACTED, redact_database_detail
from bot.logging_setup import configure
from bot.usecases.review_ops import ReviewOps
from store.db import Database
from store.models import Contact

PHONE = "+33610000002"
EMAIL = "zed@example.com"


def test_a_constraint_error_logged_with_its_traceback_names_no_customer(db: Database) -> None:
    ws = _workspace(db)
    with db.write() as session:
        session.add(Contact(workspace_id=ws, name="Zed", phone=PHONE, email=EMAIL, created_at=NOW))
    out = io.StringIO()
    configure("INFO", stream=out)
    try:
        with db.write() as session:
            session.add(Contact(workspace_id=ws, name="Zed Twin", phone=PHONE, created_at=NOW))
    except IntegrityError:
        logging.getLogger("reviewops.test").exception("could not create the contact")
    logged = out.getvalue()
    assert "could not create the contact" in logged and "IntegrityError" in logged
    assert PHONE not in logged and "Zed Twin" not in logged and EMAIL not in logged


def test_postgresql_details_are_redacted_and_other_text_is_kept() -> None:
    detail = (
        'duplicate key value violates unique constraint "uq_contact_phone"\n'
        f"DETAIL:  Key (workspace_id, phone)=(1, {PHONE}) already exists.\n"
        f"DETAIL:  Failing row contains (7, 1, Zed, null, {EMAIL})."
    )
    redacted = redact_database_detail(detail)
    assert PHONE not in redacted and EMAIL not in redacted and "Zed" not in redacted
    assert f"Key (workspace_id, phone)=({REDACTED}) already exists." in redacted
    assert 'violates unique constraint "uq_contact_phone"' in redacted
    assert redact_database_detail("nothing to hide") == "nothing to hide"


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _workspace(db: Database) -> int:
    ops = ReviewOps(db, clock=FrozenClock(NOW), default_region="FR")
    workspace = ops.ensure_workspace("T0LOG", "Logs")
    assert workspace.id is not None
    return workspace.id
