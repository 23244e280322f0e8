"""What each workspace setting means, and how to write it: the one place `settings set --help`
(and any other help) reads. Defaults come from `WorkspacePolicy` itself, never restated here."""

from __future__ import annotations

from bot.domain.policy import SETTING_KEYS, WorkspacePolicy
from bot.domain.policy_edit import as_display_rows

MEANINGS: dict[str, str] = {
    "business_name": "Your business's name, as customers read it in every message.",
    "timezone": "The workspace timezone (IANA, like Europe/Paris): send window, days, times.",
    "region": "Country code for phone numbers written without +country (FR, US, SE...).",
    "language": "Language of messages when a request names none (en, fr or sv).",
    "send_window": "Days and hours messages may go out, like mon-fri 09:00-19:00, or always.",
    "holidays": "Skip this country's public holidays (FR, US...), or none.",
    "quiet_hours": "Texts reach a recipient only within these local hours (only stricter).",
    "delay": "Wait before the first message: 0, 30m, 2h, 1d, 7d...",
    "method": "How to reach customers: sms, whatsapp, email, sms_or_email or sms_and_email.",
    "reminders": "Reminders sent when a customer has not clicked (0 to 5).",
    "reminder_interval_days": "Days between the first message and each reminder (1 to 60).",
    "reminder_channel": "Channel of reminders: auto, sms, whatsapp or email.",
    "fallback_email": "on: a failed text is retried by email when there is an address.",
    "cooldown_days": "Days before the same customer may be asked again (0 to 3650).",
    "retention_days": "Days customer data is kept; older is erased daily (0: forever).",
    "landing_url_service": "Review page for service reviews (https://...).",
    "landing_url_product": "Review page for product reviews (https://...).",
    "landing_urls": "Review pages by type and language: service.fr=https://...,product.sv=...",
    "sms_sender": "Alphanumeric SMS sender name, up to 11 letters, digits and spaces.",
    "sms_template": "Your own SMS text (the link and STOP words are added).",
    "sms_price": "Price of one SMS segment, for the stats' cost estimate (0 to 10).",
    "currency": "Currency of sms_price (EUR, USD, SEK...).",
    "email_from": "Sender address of review emails.",
    "email_from_name": "Sender name of review emails.",
    "email_reply_to": "Where customers' replies to emails go.",
    "email_subject": "Subject of review emails (empty: the built-in one).",
    "email_body": "Your own email text (empty: the built-in one).",
    "notify_channel": "Slack channel id for every request's card (empty: where it was asked).",
    "alert_channel": "Slack channel id for failures, complaints and opt-outs.",
    "admins": "Slack user ids who may change settings, comma separated.",
    "require_consent": "on: every request needs the sender's word the customer agreed.",
    "digest": "A summary of the outreach with a chart: off, daily or weekly (on Mondays).",
    "digest_time": "Local time the digest is posted, like 09:00.",
    "digest_channel": "Slack channel id of the digest (empty: notify_channel).",
    "shopify_secret": "Shopify webhook signing secret (write-only, shown masked).",
    "shopify_orders": "on: a fulfilled Shopify order asks for a review, a refund cancels it.",
    "stripe_secret": "Stripe webhook signing secret, whsec_... (write-only, shown masked).",
    "stripe_orders": "on: a paid Stripe checkout or invoice asks for a review, a refund cancels.",
    "order_delay": "Wait before an order's request (empty: the workspace's delay).",
    "order_review_type": "Review type of an order's request: service or product.",
    "events_url": "Your https endpoint for signed status-change events (empty: none).",
    "events_secret": "Standard Webhooks key signing the events, whsec_... (write-only).",
}


def setting_help() -> list[tuple[str, str, str]]:
    """Return (key, meaning, default as `settings show` writes it) for every setting, in order."""
    defaults = dict(as_display_rows(WorkspacePolicy()))
    return [
        (key, MEANINGS.get(key, ""), _default(key, defaults.get(key, "-"))) for key in SETTING_KEYS
    ]


def _default(key: str, shown: str) -> str:
    # A secret's default is "not set"; never print a value for one.
    return "not set" if shown == "-" or key.endswith("_secret") else shown
