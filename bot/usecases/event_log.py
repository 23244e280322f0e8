"""One log line per meaningful event of a request: created, sent, failed, unknown, retried.

Each line is readable as text ("sent #42 by SMS to +33 •••• ••40 (SM1a2b…) [T0001]") and
carries its fields for LOG_FORMAT=json (`event`, `request`, `workspace`, `channel`,
`provider`, `provider_id`, `error_code`, ...). Contacts are always masked
(bot/domain/contacts.py); message bodies and names never appear.
"""

from __future__ import annotations

import logging
import re
from typing import Any, NamedTuple

from bot.delivery.base import OutgoingMessage, SendResult
from bot.domain.channels import channel_in_sentence
from bot.domain.contacts import mask_email, mask_phone
from store.models import ReviewRequest

log = logging.getLogger("reviewops.events")

REASON_MAX = 200  # a provider's reason is cut here in a log line


class Recorded(NamedTuple):
    """What the dispatcher stored about one send, for its log line."""

    number: int
    workspace: str
    status: str


def fields(event: str, **values: Any) -> dict[str, Any]:
    """Return the `extra=` of an event line: its name and its fields, None left out."""
    return {"event": event, **{k: v for k, v in values.items() if v is not None}}


def masked(channel: str, to: str | None) -> str:
    """Mask an address as channel messages do: a phone but its last two digits, an email's user."""
    return mask_email(to) if channel == "email" else mask_phone(to)


def request_created(request: ReviewRequest, workspace: str) -> None:
    """Log a new request: its number, its channels and where they go (masked)."""
    channels = request.channel.split("+")
    where = ", ".join(
        f"{channel_in_sentence(c)} to {masked(c, request.email if c == 'email' else request.phone)}"
        for c in channels
    )
    log.info(
        "created #%d (%s) [%s]",
        request.number,
        where,
        workspace,
        extra=fields(
            "request.created",
            request=request.number,
            workspace=workspace,
            channel=request.channel,
        ),
    )


def import_finished(
    import_id: int, workspace: str, created: int, skipped: int, *, canceled: bool
) -> None:
    """Log an import's requests in one line (never a line per row: a file may hold 100,000)."""
    how = "canceled while it ran" if canceled else "done"
    log.info(
        "import %d %s: %d requests created, %d skipped since the check [%s]",
        import_id,
        how,
        created,
        skipped,
        workspace,
        extra=fields("import.finished", workspace=workspace, import_id=import_id, count=created),
    )


def send_outcome(recorded: Recorded, outgoing: OutgoingMessage, result: SendResult) -> None:
    """Log what became of one send: sent, failed, opted out, unknown or back in the queue."""
    channel = outgoing.channel
    how = f"by {channel_in_sentence(channel)} to {masked(channel, outgoing.to)}"
    said = _reason(result.error_code, result.reason)
    number, workspace, status = recorded
    extra = fields(
        f"message.{status}",
        request=number,
        workspace=workspace,
        channel=channel,
        provider=result.provider,
        provider_id=result.provider_id,
        error_code=result.error_code,
        reason=scrubbed(result.reason),
    )
    if status in ("sent", "delivered", "read"):
        sid = result.provider_id or result.provider
        log.info("sent #%d %s (%s) [%s]", number, how, sid, workspace, extra=extra)
    elif status == "queued":
        log.info("#%d not sent %s, will retry: %s [%s]", number, how, said, workspace, extra=extra)
    else:
        log.warning("#%d %s %s: %s [%s]", number, status, how, said, workspace, extra=extra)


def marked_unknown(*, number: int, workspace: str, channel: str, to: str | None, why: str) -> None:
    """Log a send whose outcome is not known (the reaper found it abandoned)."""
    log.warning(
        "#%d unknown by %s to %s: %s [%s]",
        number,
        channel_in_sentence(channel),
        masked(channel, to),
        why,
        workspace,
        extra=fields("message.unknown", request=number, workspace=workspace, channel=channel),
    )


def scrubbed(reason: str | None) -> str | None:
    """A provider's reason cut to REASON_MAX, any phone number or address in it hidden
    ("550 <jane@example.com>: rejected", "The 'To' number +1555... is not valid")."""
    if not reason:
        return None
    text = _EMAIL.sub("[address]", reason[:REASON_MAX])
    return _PHONE.sub(_number, text)


def _reason(error_code: str | None, reason: str | None) -> str:
    text = scrubbed(reason) or "no reason given"
    return f"{error_code} {text}" if error_code else text


# Bounded input (REASON_MAX), single classes, no nested quantifiers.
_EMAIL = re.compile(r"[^\s@<>()\[\]:;,\"']+@[^\s@<>()\[\]:;,\"']+")
_PHONE = re.compile(r"\+?\d[\d ().-]{5,}\d")
PHONE_DIGITS = 9  # fewer: a code, a date or an SMTP status ("550 5.1.1"), kept


def _number(found: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in found.group())
    return "[number]" if digits >= PHONE_DIGITS else found.group()
