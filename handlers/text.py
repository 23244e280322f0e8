"""Words and text rules shown in Slack: mrkdwn escaping, clipping, dates, masks, labels."""

from __future__ import annotations

import re
from datetime import datetime

from bot.domain.channels import CHANNEL_LABELS as CHANNEL_LABELS
from bot.domain.channels import channels_label
from bot.domain.contacts import mask_contact, mask_email, mask_phone
from bot.domain.policy import SLACK_USER_ID as SLACK_USER_ID
from bot.domain.templating import LANGUAGES
from bot.domain.timing import slack_date_token
from bot.usecases.history import ReviewRequest
from handlers.blocks.limits import MAX_TEXT

channel_label = channels_label  # how a request goes out: "SMS + Email"
# Each language messages are sent in (the one list: bot.domain.templating.LANGUAGES), by its
# own name; a language added there shows here by its code until it is named.
_LANGUAGE_NAMES = {"en": "English", "fr": "Français", "sv": "Svenska"}
LANGUAGE_LABELS = {code: _LANGUAGE_NAMES.get(code, code) for code in LANGUAGES}
TYPE_LABELS = {"service": "Service", "product": "Product"}

_LOCAL_PART = r"[\w.!#$%&'*+/=?^`{|}~-]"
# An address starts where a run of local-part characters starts: a long word without "@" is
# then read once, not once per character (which was quadratic).
_EMAIL_RE = re.compile(rf"(?<!{_LOCAL_PART}){_LOCAL_PART}+@[\w-]+(?:\.[\w-]+)+")
# An international number as providers quote it: "+33 6 12 34 56 78", "+15005550006".
_PHONE_RE = re.compile(r"\+\d[\d\s().-]{5,20}\d")


# The most of a customer's own words shown in one Slack message (an SMS is at most 1600).
QUOTE_LIMIT = 600
# The markup use-cases write into a journal line (`Change.text`), once escaped: the acting
# user's mention (`Actor.label`) and Slack's date token without a link part (slack_date_token).
_ESCAPED_MENTION = "&lt;@{}&gt;"
_ESCAPED_DATE = re.compile(r"&lt;(!date\^\d{1,12}\^[^&^|]{1,80}\|[^&^|]{1,80})&gt;")


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup.

    `&` goes first, so text that already reads `&lt;` shows as typed rather than as `<`. Every
    text from outside our code (names, references, replies, providers' reasons, settings) goes
    through here before it is put in mrkdwn: `<!channel>`, `<@U1>`, `<https://x|y>` stay words.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Show someone else's words as a mrkdwn quote: bounded, escaped, each line after `>`."""
    words = text.strip()
    if len(words) > limit:
        words = words[: limit - 1].rstrip() + "…"
    lines = words.splitlines() or [""]
    return "\n".join(f">{escape(line)}" for line in lines)


def journal_line(text: str, actor_id: str | None = None) -> str:
    """Write a journal line (`Change.text`) as mrkdwn: escaped whole, our own markup put back.

    A line mixes our words with outside ones (a customer's name, a provider's reason), so all
    of it is escaped; then only what use-cases write themselves is restored: the mention of the
    user who acted (`actor_id`) and date tokens, which can carry no link here.
    """
    line = escape(text)
    if actor_id and SLACK_USER_ID.match(actor_id):
        line = line.replace(_ESCAPED_MENTION.format(actor_id), f"<@{actor_id}>")
    return _ESCAPED_DATE.sub(lambda m: f"<{m.group(1)}>", line)


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
