"""Words and text rules shown in Slack: mrkdwn escaping, clipping, dates, masks, labels."""

from __future__ import annotations

import re
from datetime import datetime

from bot.domain.channels import CHANNEL_LABELS as CHANNEL_LABELS
from bot.domain.channels import channels_label
from bot.domain.contacts import mask_contact, mask_email, mask_phone
from bot.domain.policy import SLACK_USER_ID as SLACK_USER_ID
from bot.domain.timing import slack_date_token
from bot.usecases.history import ReviewRequest
from handlers.blocks.limits import MAX_TEXT

channel_label = channels_label  # how a request goes out: "SMS + Email"
LANGUAGE_LABELS = {"en": "English", "fr": "Français", "sv": "Svenska"}
TYPE_LABELS = {"service": "Service", "product": "Product"}

_EMAIL_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# An international number as providers quote it: "+33 6 12 34 56 78", "+15005550006".
_PHONE_RE = re.compile(r"\+\d[\d\s().-]{5,20}\d")


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Cut a text to a Block Kit limit, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(when: datetime, fmt: str = "{date_short_pretty} {time}", *, tz: str = "UTC") -> str:
    """Format a time for Slack to show in each reader's timezone, falling back to `tz`'s."""
    return slack_date_token(when, tz, fmt)


def masked_contact(request: ReviewRequest) -> str:
    """Return the request's contact with the phone and email masked ("–" when erased)."""
    return mask_contact(request.phone, request.email) or "–"


def redact(text: str, request: ReviewRequest | None = None) -> str:
    """Mask every phone number and email address in a text meant for a Slack channel."""
    if request is not None:
        if request.phone:
            text = text.replace(request.phone, mask_phone(request.phone))
        if request.email:
            text = re.sub(re.escape(request.email), mask_email(request.email), text, flags=re.I)
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE_RE.sub(lambda m: _mask_quoted_phone(m.group(0)), text)


def _mask_quoted_phone(raw: str) -> str:
    return mask_phone("+" + re.sub(r"\D", "", raw))


def user_mention(user_id: str, name: str = "") -> str:
    """Mention a Slack user; name anyone else (the CLI, a webhook) in escaped text."""
    if SLACK_USER_ID.match(user_id):
        return f"<@{user_id}>"
    return escape(name or user_id)
