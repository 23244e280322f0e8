"""A contact's email is matched in any case: one contact per address, duplicates merged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from store import db as store_db
from store.db import Database
from store.models import Contact, ReviewRequest, Workspace
from tests.conftest import START


def _request(workspace_id: int, number: int, contact_id: int | None) -> ReviewRequest:
    return ReviewRequest(
        workspace_id=workspace_id,
        number=number,
        contact_id=contact_id,
        customer_name="Jane",
        method="email",
        channel="email",
        status="sent",
        created_by="U1",
        created_at=START,
        updated_at=START,
    )


def test_the_migration_merges_contacts_whose_address_differs_in_case_only(
    database_url: str,
) -> None:
    store_db.downgrade(database_url, "0003")
    db = Database(database_url)
    early, late = START - timedelta(days=3), START - timedelta(days=1)
    try:
        with db.write() as session:
            workspace = Workspace(team_id="T1", created_at=START)
            other_workspace = Workspace(team_id="T2", created_at=START)
            session.add_all([workspace, other_workspace])
            session.flush()
            assert workspace.id is not None and other_workspace.id is not None
            ws = workspace.id
            first = Contact(workspace_id=ws, email="Jane@example.com", created_at=START)
            second = Contact(
                workspace_id=ws,
                email="jane@example.com",
                phone="+14155550100",
                phone_opted_out_at=late,
                email_opted_out_at=late,
                created_at=START,
            )
            third = Contact(
                workspace_id=ws,
                email="JANE@EXAMPLE.COM",
                email_opted_out_at=early,
                created_at=START,
            )
            apart = Contact(
                workspace_id=other_workspace.id, email="jane@example.com", created_at=START
            )
            session.add_all([first, second, third, apart])
            session.flush()
            # Only the columns set: the schema at 0003 lacks the columns added since (erased_at).
            rows = [_request(ws, n, c.id) for n, c in enumerate((first, second, third), start=1)]
            session.execute(insert(ReviewRequest), [r.model_dump(exclude_none=True) for r in rows])
        store_db.upgrade(database_url)
        with db.read() as session:
            contacts = session.exec(
                select(Contact).where(Contact.workspace_id == ws).order_by(col(Contact.id))
            ).all()
            assert [(c.email, c.phone) for c in contacts] == [("Jane@example.com", "+14155550100")]
            [merged] = contacts
            assert merged.email_opted_out_at == early
            assert merged.phone_opted_out_at == late
            owners = session.exec(
                select(ReviewRequest.contact_id).where(ReviewRequest.workspace_id == ws)
            ).all()
            assert set(owners) == {merged.id}
            assert len(session.exec(select(Contact)).all()) == 2  # the other workspace's stays
        with pytest.raises(IntegrityError), db.write() as session:
            session.add(Contact(workspace_id=ws, email="jAnE@example.com", created_at=START))
    finally:
        db.dispose()


def test_the_migration_goes_down_and_up_again(database_url: str) -> None:
    store_db.downgrade(database_url, "0003")
    db = Database(database_url)
    try:
        with db.write() as session:
            workspace = Workspace(team_id="T1", created_at=START)
            session.add(workspace)
            session.flush()
            assert workspace.id is not None
            session.add(Contact(workspace_id=workspace.id, email="a@example.com", created_at=START))
            session.add(Contact(workspace_id=workspace.id, email="A@example.com", created_at=START))
        store_db.upgrade(database_url)
        store_db.downgrade(database_url, "0003")
        store_db.upgrade(database_url)
        with db.read() as session:
            assert len(session.exec(select(Contact)).all()) == 1
    finally:
        db.dispose()
