"""Twilio's vocabulary in our words: status words, error codes and STOP/START/HELP keywords.

The webhook routes, the sender and reconciliation translate what Twilio says here; the
use-cases only ever see domain reports (bot.domain.reports). No SDK import: cheap to load.
"""

from __future__ import annotations

from bot.domain.reports import DeliveryReport, InboundText, Intent
from bot.domain.status import Status

# Twilio MessageStatus -> our status; None: an earlier stage that can never move a row on.
TWILIO_STATUSES: dict[str, Status | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": Status.SENDING,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "partially_delivered": Status.DELIVERED,
    "read": Status.READ,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
    "canceled": Status.CANCELED,
}
# Twilio joins a long SMS into one body of at most 1,600 characters: we read no more.
MAX_INBOUND_TEXT = 1600
# The recipient replied STOP to our sender: Twilio refuses to send to it.
OPTED_OUT_CODES = frozenset({21610})
# The number can never receive this message: invalid, not a mobile, WhatsApp window closed.
NOT_A_RECIPIENT_CODES = frozenset({21211, 21614, 63016})

# Twilio's default opt-out, opt-in and help keywords (matched whole, trimmed, any case).
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
)
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

# Readable reasons for the codes Twilio gives at send time (REST errors) and later in
# status callbacks (ErrorCode). https://www.twilio.com/docs/api/errors
ERROR_REASONS: dict[int, str] = {
    20003: "Twilio rejected the account credentials",
    20429: "Twilio rate limit reached: try again later",
    21211: "Invalid phone number",
    21408: "SMS to this country is not enabled on the Twilio account",
    21602: "Message body is required",
    21603: "A sender (From) is required",
    21604: "A recipient (To) is required",
    21606: "The sender number can't send messages to this destination",
    21610: "The customer replied STOP to this number",
    21612: "The number can't be reached by SMS from this sender",
    21614: "Not a mobile number: can't receive SMS",
    21617: "Message too long (over 1600 characters)",
    21910: "Sender and recipient are not on the same channel",
    30001: "Queue overflow: too many messages queued for this sender",
    30002: "Twilio account suspended",
    30003: "Unreachable destination handset",
    30004: "Message blocked by the recipient or the carrier",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Filtered as spam by the carrier",
    30008: "Unknown error",
    30009: "Missing segment: part of the message was lost",
    30010: "Message price exceeds the maximum price",
    30034: "Sent from an unregistered US 10DLC number",
    30410: "The carrier timed out",
    63003: "WhatsApp: the number is not on WhatsApp",
    63016: "WhatsApp: outside the 24-hour window, a template message is required",
    63018: "WhatsApp: rate limit reached for this sender",
    63024: "WhatsApp: invalid message recipient",
}


def twilio_error_reason(code: int | str | None) -> str:
    """Give a readable reason for a Twilio error code (send-time or delivery)."""
    if code is None or str(code).strip() == "":
        return "Unknown error"
    try:
        number = int(str(code).strip())
    except ValueError:
        return f"Twilio error {code}"
    return ERROR_REASONS.get(number, f"Twilio error {number}")


def twilio_status(value: str) -> Status | None:
    """Map a Twilio MessageStatus to ours; None for early stages and unknown words."""
    return TWILIO_STATUSES.get(value.strip().lower())


def is_opt_out_code(code: int | str | None) -> bool:
    """Say whether a Twilio error code means the recipient opted out (replied STOP)."""
    return str(code or "").strip() in {str(c) for c in OPTED_OUT_CODES}


def status_report(status: str, error_code: str | None) -> DeliveryReport | None:
    """Translate a status callback into a delivery report; None when it can't move a message."""
    reported = twilio_status(status)
    if reported is None:
        return None
    code = (error_code or "").strip() or None
    opted_out = is_opt_out_code(code) and reported in (Status.FAILED, Status.UNDELIVERED)
    return DeliveryReport(
        Status.UNSUBSCRIBED if opted_out else reported,
        status.strip().lower(),
        error_code=code,
        reason=twilio_error_reason(code) if code else None,
        recipient_opted_out=opted_out,
    )


def bare_phone(address: str) -> str:
    """Return the E.164 number of a Twilio address ("whatsapp:+33..." -> "+33...")."""
    return address.strip().removeprefix("whatsapp:").strip()


def keyword(body: str) -> str:
    """Return an inbound text as a keyword candidate: trimmed, upper case, end punctuation off."""
    return body.strip().rstrip(".!").strip().upper()


def inbound_text(body: str) -> InboundText:
    """Read a customer's text: an opt-out, opt-in or help keyword, or a reply for the team.

    Cut to the longest SMS Twilio delivers (`MAX_INBOUND_TEXT`) before anything reads it: a
    reply is still kept and classified, however long the body that reached us.
    """
    body = (body or "")[:MAX_INBOUND_TEXT]
    word = keyword(body)
    if word in STOP_WORDS:
        intent = Intent.OPT_OUT
    elif word in START_WORDS:
        intent = Intent.OPT_IN
    elif word in HELP_WORDS:
        intent = Intent.HELP
    else:
        intent = Intent.REPLY
    return InboundText(intent, word, body.strip())
