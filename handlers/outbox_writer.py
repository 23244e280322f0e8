"""The Notifier port for Slack: each change to a request becomes Slack outbox rows.

Nothing here calls Slack. Rows are written inside the caller's transaction, so a change and
what the team is told about it commit (or roll back) together; scheduler/outbox.py posts
them later, in order and paced.

Row kinds and payloads (all JSON):
- ``root``: the request card, posted once; the job stores its channel and ts on the request.
  ``{"text", "blocks"}``
- ``reply``: one line in the request's thread. ``{"text", "request_id"}``, and
  ``"reply_broadcast": true`` for an alert shown in the channel too.
- ``update``: the root card redrawn to the current status. ``{"text", "blocks", "request_id"}``
- ``alert``: a message to the workspace's alert channel. ``{"text", "blocks", "request_id",
  "number"}``; the job adds a link to the thread when the root has been posted.
- ``erase``: a posted reply or alert of a deleted request, overwritten. ``{"ts", "text"}``
Once posted, reply and alert rows remember ``"posted": {"channel", "ts"}`` for that.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.domain.policy_read import stored_policy
from bot.domain.status import PENDING, Status
from bot.usecases.notifier import Change
from handlers.blocks.card import (
    alert_blocks,
    alert_text,
    change_text,
    decision_blocks,
    request_card_blocks,
    request_card_text,
)
from handlers.blocks.common import dicts
from handlers.text import clip
from store.models import Message, ReviewRequest, SlackOutbox, Workspace

ERASED_TEXT = "(deleted: this request's details were erased)"


class SlackNotifier:
    """Write Slack outbox rows for a request's changes, in the caller's transaction."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def notify(self, session: Session, request: ReviewRequest, change: Change) -> None:
        """Queue the card, the thread reply, the card update and any alert this change needs."""
        assert request.id is not None
        # An imported request (a file may hold 100,000) gets no card of its own until it needs
        # the team (a failure, complaint, opt-out, decision): a new one has nothing to look up.
        quiet = request.import_id is not None and not change.alert
        if quiet and change.kind == "created":
            return
        workspace = session.get(Workspace, request.workspace_id)
        if workspace is None:
            return
        thread_channel = _thread(session, request, change)
        if thread_channel is None and quiet:
            return  # the import's summary and the list say the rest
        policy = stored_policy(workspace.policy)
        now = self.clock.now()
        waiting = _waiting(session, request, change)
        text = change_text(change, request)  # mrkdwn: masked, escaped, a reply quoted
        posted_card = False
        if thread_channel is None and request.deleted_at is None:
            # First change with somewhere to say it: start the thread with the current card.
            thread_channel = policy.notify_channel or request.origin_channel
            if thread_channel:
                self._add(
                    session,
                    request,
                    "root",
                    thread_channel,
                    _card(request, waiting, policy.timezone),
                    now,
                )
                posted_card = True

        decisions = dicts(decision_blocks(text, request.number))
        if thread_channel and change.kind != "created":
            reply: dict[str, Any] = {"text": clip(text), "request_id": request.id}
            if change.decision_needed:
                reply["blocks"] = decisions
            self._add(session, request, "reply", thread_channel, reply, now)
            if not posted_card:
                payload = {**_card(request, waiting, policy.timezone), "request_id": request.id}
                self._add(session, request, "update", thread_channel, payload, now)

        if change.alert:
            if policy.alert_channel:
                payload = {
                    "text": alert_text(request, text, thread_channel),
                    "blocks": dicts(alert_blocks(request, text, thread_channel))
                    + (decisions[1:] if change.decision_needed else []),
                    "request_id": request.id,
                    "number": request.number,
                }
                self._add(session, request, "alert", policy.alert_channel, payload, now)
            elif thread_channel:
                payload = {
                    "text": alert_text(request, text, None),
                    "request_id": request.id,
                    "reply_broadcast": True,
                }
                self._add(session, request, "reply", thread_channel, payload, now)

    def forget(self, session: Session, request: ReviewRequest) -> None:
        """Erase what the outbox kept of a deleted request; drop what it had not posted yet.

        Posted rows keep their status and lose their text; the replies and alerts they put in
        Slack are overwritten by `erase` rows. Rows still waiting are settled unposted: they
        carry the name; the "deleted" reply and card that follow replace them.
        """
        now = self.clock.now()
        for row in session.exec(
            select(SlackOutbox).where(SlackOutbox.request_id == request.id)
        ).all():
            posted = row.payload.get("posted") if row.status == "done" else None
            row.payload = {"erased": True}
            if row.status == "pending":
                row.status = "done"
                row.done_at = now
                row.last_error = "not posted: the request was deleted"
            session.add(row)
            if posted:
                # A thread reply or alert already in Slack may quote the customer: erase it.
                self._add(
                    session,
                    request,
                    "erase",
                    str(posted["channel"]),
                    {"ts": posted["ts"], "text": ERASED_TEXT},
                    now,
                )
        session.flush()

    def _add(
        self,
        session: Session,
        request: ReviewRequest,
        kind: str,
        channel: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        session.add(
            SlackOutbox(
                workspace_id=request.workspace_id,
                request_id=request.id,
                kind=kind,
                channel=channel,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
        )
        # Give rows ids now, so the outbox's id order is the order of the changes.
        session.flush()


def _card(request: ReviewRequest, waiting: Collection[Status], tz: str) -> dict[str, Any]:
    return {
        "text": request_card_text(request, tz=tz),
        "blocks": dicts(request_card_blocks(request, waiting=waiting, tz=tz)),
    }


# A request just created (change "created", in this transaction) has no card posted yet, and
# its first messages wait in its own status: nothing to read back.


def _thread(session: Session, request: ReviewRequest, change: Change) -> str | None:
    """The request's Slack thread: the channel its card was posted to, if any."""
    if request.slack_channel or change.kind == "created":
        return request.slack_channel
    assert request.id is not None
    return _root_channel(session, request.id)


def _waiting(session: Session, request: ReviewRequest, change: Change) -> set[Status]:
    if change.kind == "created":
        return {Status(request.status)} & PENDING
    statuses = session.exec(select(Message.status).where(Message.request_id == request.id)).all()
    return {Status(s) for s in statuses} & PENDING


def _root_channel(session: Session, request_id: int) -> str | None:
    return session.exec(
        select(SlackOutbox.channel)
        .where(SlackOutbox.request_id == request_id, SlackOutbox.kind == "root")
        .order_by(col(SlackOutbox.id))
        .limit(1)
    ).first()
