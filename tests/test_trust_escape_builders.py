"""Every Block Kit builder, fed rows whose every free-text field is hostile, writes no markup.

The surface tests drive Slack's entry points with a hostile name, reference and reply. This one
is the net under them: each free-text field of the rows handlers render (request, message,
contact, event, policy, sender defaults) holds `<!channel>`, a disguised link and `&`, and every
mrkdwn and fallback text each builder returns must hold only the markup our own code writes. A
new field drawn without `escape` fails here, whichever builder draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.domain.policy import WorkspacePolicy
from bot.domain.status import Status
from bot.domain.timing import slack_date_token
from bot.usecases.inputs import BulkResult, CustomerLookup, RequestDetail
from bot.usecases.notifier import Change
from handlers.blocks import (
    apikeys,
    card,
    customer,
    detail,
    help,
    home,
    listing,
    send,
    settings_show,
)
from handlers.blocks.common import Reply, dicts
from handlers.blocks.controls import CustomerState
from handlers.blocks.detail import SenderInfo
from handlers.parsing import PageState
from store.filter_sql import HistoryFilter
from store.integration_models import ApiKey
from store.models import Contact, Event, Message, ReviewRequest
from store.queries import ContactHistory
from tests.test_trust_escape import foreign_markup, mrkdwn_texts

EVIL = "<!channel> A&B <@U0BOSS> <https://evil.example|Click here> &lt;"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def hostile_request(**values: Any) -> ReviewRequest:
    fields: dict[str, Any] = {
        "id": 1,
        "workspace_id": 1,
        "number": 7,
        "customer_name": EVIL,
        "phone": EVIL,
        "email": EVIL,
        "reference": EVIL,
        "created_by": EVIL,  # not a Slack user: named in words
        "created_by_name": EVIL,
        "last_error": EVIL,
        "status": Status.FAILED.value,
        "channel": "sms",
        "method": "sms",
        "review_type": "service",
        "language": "en",
        "created_at": NOW,
        "scheduled_at": NOW + timedelta(hours=1),
        "sent_at": NOW,
    }
    return ReviewRequest(**{**fields, **values})


def hostile_message() -> Message:
    return Message(
        id=3,
        request_id=1,
        kind="initial",
        channel="sms",
        to_address=EVIL,
        status=Status.FAILED.value,
        token="t",
        provider=EVIL,
        error_code=EVIL,
        error_reason=EVIL,
        subject=EVIL,
        body=EVIL,
        due_at=NOW,
        sent_at=NOW,
        failed_at=NOW,
    )


def hostile_contact(contact_id: int = 5) -> Contact:
    return Contact(id=contact_id, workspace_id=1, name=EVIL, phone=EVIL, email=EVIL, created_at=NOW)


def hostile_event(kind: str) -> Event:
    detail = {"text": EVIL, "reason": EVIL, "actor_name": EVIL, "from": EVIL}
    return Event(id=9, request_id=1, kind=kind, actor=EVIL, at=NOW, detail=detail)


def hostile_policy() -> WorkspacePolicy:
    words = dict.fromkeys(
        ("business_name", "email_from_name", "sms_sender", "email_from", "email_reply_to"), EVIL
    )
    return WorkspacePolicy().model_copy(update={**words, "landing_url_service": EVIL})


def _history() -> ContactHistory:
    return ContactHistory(
        hostile_contact(),
        [hostile_request()],
        {1: [hostile_message()]},
        {1: [hostile_event("reply")]},
        1,
    )


def _detail() -> Reply:
    request = hostile_request()
    events = [hostile_event(k) for k in ("created", "failed", "reply")]
    found = RequestDetail(request, [hostile_message()], events, hostile_contact(), hostile_policy())
    return detail.detail_reply(found, SenderInfo(EVIL, EVIL, EVIL))


def _changes() -> list[str]:
    request = hostile_request()
    failed = card.change_text(Change("failed", f"SMS failed: {EVIL}", alert=True), request)
    replied = card.change_text(Change("reply", f"{EVIL} replied: {EVIL}", quote=EVIL), request)
    by_user = card.change_text(Change("paused", f"Paused by {EVIL}", actor_id="U0ALICE"), request)
    return [failed, replied, by_user]


def _alerts() -> list[Any]:
    request = hostile_request()
    reason = _changes()[0]
    return [
        {"text": card.alert_text(request, reason, "C0REVIEWS")},
        {"blocks": dicts(card.alert_blocks(request, reason, "C0REVIEWS"))},
        {"blocks": dicts(card.decision_blocks(reason, 7))},
    ]


def _list() -> Reply:
    row = listing.Row(hostile_request(), frozenset({Status.QUEUED}))
    query = HistoryFilter(reference=EVIL, text=EVIL)
    return listing.list_reply(
        [row],
        state=PageState(),
        f=query,
        counts={},
        next_state=None,
        prev_state=None,
        note=None,
        admin=True,
    )


BUILDERS: dict[str, Callable[[], Any]] = {
    "card text": lambda: {"text": card.request_card_text(hostile_request())},
    "card blocks": lambda: {
        "blocks": dicts(card.request_card_blocks(hostile_request(), waiting={Status.QUEUED}))
    },
    "thread lines": lambda: [{"text": line} for line in _changes()],
    "alerts": _alerts,
    "list": _list,
    "bulk": lambda: listing.bulk_reply(BulkResult([1], [(2, EVIL)]), "paused"),
    "detail": _detail,
    "customer grouped": lambda: customer.customer_reply(_history(), CustomerState(5)),
    "customer flat": lambda: customer.customer_reply(_history(), CustomerState(5, flat=True)),
    "customer choices": lambda: customer.customer_choices_reply(
        CustomerLookup(EVIL, None, [hostile_contact(5), hostile_contact(6)])
    ),
    "home": lambda: home.home_view(home.HomeData(NOW, [], 1, [hostile_request()])),
    "queued": lambda: home.queued_modal([hostile_request()], 1),
    "created": lambda: send.created_reply(hostile_request()),
    "settings show": lambda: settings_show.settings_reply([("business_name", EVIL)], admin=True),
    "created why": lambda: send.created_reply(hostile_request(scheduled_at=NOW), why=[EVIL, EVIL]),
    "settings help": lambda: settings_show.settings_help_reply([("business_name", EVIL, EVIL)]),
    "help": lambda: help.help_reply(EVIL),
    "api key created": lambda: apikeys.created_key_reply(hostile_key(), "rvo_secret"),
    "api keys": lambda: apikeys.keys_reply([hostile_key()], "Europe/Paris"),
}


def hostile_key() -> ApiKey:
    return ApiKey(
        id=3,
        workspace_id=1,
        name=EVIL,
        prefix="rvo_AbCd",
        secret_hash="0" * 64,
        created_by="U0ALICE",
        created_by_name=EVIL,
        created_at=NOW,
    )


def _as_messages(built: Any) -> list[dict[str, Any]]:
    if isinstance(built, list):
        return [m for item in built for m in _as_messages(item)]
    if isinstance(built, Reply):
        return [built.as_kwargs()]
    if isinstance(built, View):
        return [built.to_dict()]
    return [built]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_no_builder_writes_markup_from_outside(name: str) -> None:
    for message in _as_messages(BUILDERS[name]()):
        for text in mrkdwn_texts(message):
            assert foreign_markup(text) == [], (name, text)
            for evil in ("<!channel>", "<@U0BOSS>", "<https://evil"):
                assert evil not in text, (name, text)


def test_our_own_markup_is_kept_and_outside_words_are_not() -> None:
    request = hostile_request(phone="+33610203040", email="jane@example.com")
    by_user = Change("paused", f"Paused by <@U0ALICE> for {EVIL}", actor_id="U0ALICE")
    assert card.change_text(by_user, request) == (
        "Paused by <@U0ALICE> for &lt;!channel&gt; A&amp;B &lt;@U0BOSS&gt; "
        "&lt;https://evil.example|Click here&gt; &amp;lt;"
    )
    # Only the acting user's mention is ours: without an actor, no mention is restored.
    assert card.change_text(Change("x", "<@U0ALICE>"), request) == "&lt;@U0ALICE&gt;"
    replied = card.change_text(Change("reply", f"Jane replied: {EVIL}", quote=EVIL), request)
    assert replied == "Jane replied:\n>" + card.escape(EVIL)


def test_a_date_token_is_kept_only_without_a_link() -> None:
    request = hostile_request(phone="+33610203040", email="jane@example.com")
    when = slack_date_token(NOW, "Europe/Paris")
    moved = Change("rescheduled", f"Rescheduled by <@U0ALICE> for {when}", actor_id="U0ALICE")
    assert card.change_text(moved, request) == f"Rescheduled by <@U0ALICE> for {when}"
    forged = "<!date^1795428000^{date}^https://evil.example|Click here>"
    said = card.change_text(Change("reply", f"Jane replied: {forged}", quote=forged), request)
    assert foreign_markup(said) == [] and "<!date" not in said
    in_name = card.change_text(Change("failed", f"{forged} failed"), request)
    assert "<!date" not in in_name
