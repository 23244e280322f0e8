"""Inbound replies: a customer's SMS/WhatsApp to our number (opt out, opt in, help, a reply).

A text belongs to the workspaces that handed a message to that customer's number through the
sender it came back to (`store/replies.py`), never to every workspace that knows the number:
several workspaces may share the operator's Twilio account and numbers.

- A reply goes to the latest such message's request, in the workspace that sent it.
- STOP is honoured by every workspace that sent to the customer through that sender: Twilio
  blocks the sender for that customer whichever workspace asked, so all of them lose it.
- START gives the number back only to those same workspaces; an opt-out learned elsewhere
  (another sender, an email unsubscribe) is not lifted by a text to this one.
- A text no workspace sent for is logged (masked) as unrouted and posted nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from bot.domain.contacts import mask_phone
from bot.domain.pacing import canonical
from bot.domain.policy_read import stored_policy
from bot.domain.reports import InboundText, Intent
from bot.domain.status import HANDED_OVER
from bot.usecases import event_log
from bot.usecases.actors import CUSTOMER
from bot.usecases.notifier import Change
from bot.usecases.reports import FeedbackSource, seen
from store import replies as reply_store
from store.models import ReviewRequest, Workspace

log = logging.getLogger(__name__)

_HANDED = [s.value for s in HANDED_OVER]


@dataclass(frozen=True)
class InboundAnswer:
    """What an inbound SMS/WhatsApp did, and the text to answer with (TwiML), if any."""

    kind: str  # opted_out, opted_in, help, reply, duplicate, unknown_sender
    reply: str | None = None


def reply_senders(to: str, service: str | None = None) -> list[str]:
    """Name the senders a text came back to: the number (`To`) and its messaging service.

    Written as `bot.domain.pacing` writes the sender a message went out through.
    """
    senders = [canonical(to)] if to.strip() else []
    if service and service.strip():
        senders.append(service.strip())
    return senders


class InboundReplies(FeedbackSource):
    """Act on what customers text back, in the workspaces that texted them."""

    def receive(
        self, *, sid: str, phone: str, text: InboundText, senders: Sequence[str]
    ) -> InboundAnswer:
        """Handle a customer's text to one of `senders`: opt out, opt in, help, or a reply."""

        def run(session: Session) -> InboundAnswer:
            key = f"twilio-in:{sid}"
            if sid and seen(session, key):
                if text.intent is Intent.HELP:
                    return InboundAnswer("help", self._help_text(session, phone, senders))
                return InboundAnswer("duplicate")
            if text.intent is Intent.HELP:
                return InboundAnswer("help", self._help_text(session, phone, senders))
            if text.intent in (Intent.OPT_OUT, Intent.OPT_IN):
                return self._opt(session, phone, text, senders, key)
            return self._reply(session, phone, text, senders, key if sid else None)

        answer = self.guarded_value(run, lambda: InboundAnswer("duplicate"))
        if answer.kind in ("opted_out", "opted_in"):
            said = "out of" if answer.kind == "opted_out" else "back into"
            log.info(
                "%s opted %s texts (replied %s)",
                mask_phone(phone),
                said,
                text.keyword,
                extra=event_log.fields(f"contact.{answer.kind}", keyword=text.keyword),
            )
        return answer

    def _opt(
        self, session: Session, phone: str, text: InboundText, senders: Sequence[str], key: str
    ) -> InboundAnswer:
        """STOP or START, in the workspaces that sent to this number through these senders."""
        workspaces = reply_store.workspaces_that_sent(session, phone, senders, _HANDED)
        if text.intent is Intent.OPT_IN:  # an erased customer's number has no message left
            lifting = self.journal.suppression_key.workspaces_to_lift(session, phone, senders)
            workspaces = sorted({*workspaces, *lifting})
        if not workspaces:
            _unrouted(phone, senders, text.keyword)
            return InboundAnswer("unknown_sender")
        now, word = self.clock.now(), text.keyword
        if text.intent is Intent.OPT_OUT:
            reason = f"The customer replied {word}"
            done = self.journal.opt_out_phone(
                session, phone, reason, now, dedup_key=key, keyword=word, workspaces=workspaces
            )
            return InboundAnswer("opted_out" if done else "unknown_sender")
        done = self.journal.opt_in_phone(
            session, phone, word, now, dedup_key=key, workspaces=workspaces
        )
        return InboundAnswer("opted_in" if done else "unknown_sender")

    def _reply(
        self,
        session: Session,
        phone: str,
        text: InboundText,
        senders: Sequence[str],
        key: str | None,
    ) -> InboundAnswer:
        """A free text: to the request of the latest message handed over to this number."""
        found = reply_store.latest_handed_over(session, phone, senders, _HANDED)
        if found is None:
            _unrouted(phone, senders, "reply")
            return InboundAnswer("unknown_sender")
        message, request = found
        detail = {"text": text.text, "from": phone}
        now = self.clock.now()
        self.journal.record(
            session, request, "reply", CUSTOMER, now, message=message, detail=detail, dedup_key=key
        )
        said = f"{request.customer_name} replied: {text.text}"
        self.journal.notify(session, request, Change("reply", said, quote=text.text))
        return InboundAnswer("reply")

    def _help_text(self, session: Session, phone: str, senders: Sequence[str]) -> str:
        """Who is texting (the business) and how to reach it: the law wants HELP answered so."""
        found = reply_store.latest_handed_over(session, phone, senders, _HANDED)
        request: ReviewRequest | None = found[1] if found else None
        workspace = session.get(Workspace, request.workspace_id) if request else None
        policy = stored_policy(workspace.policy) if workspace else None
        # The business's own name, else its Slack workspace's name: never a bare "we".
        name = (policy.business_name if policy else "") or (workspace.name if workspace else "")
        contact = (policy.email_reply_to or policy.email_from) if policy else ""
        text = f"{name or 'Reviews'}: we sent you a request for a review."
        if contact:
            text += f" Questions? Write to {contact} or reply here."
        elif workspace is not None:
            text += " Questions? Reply here: the team reads your reply."  # posted to its Slack
        return text + " Reply STOP to stop messages, START to receive them again."


def _unrouted(phone: str, senders: Sequence[str], what: str) -> None:
    # Kept out of every workspace: no team sent to this number through this sender. The text
    # itself is not logged (it may say anything); the masked number and sender are enough.
    log.warning(
        "unrouted inbound %s from %s to %s: no workspace sent to it through that sender",
        what,
        mask_phone(phone),
        senders[0] if senders else "?",
    )
