"""Mailgun's event names in our words: the webhook route translates them here."""

from __future__ import annotations

from bot.domain.reports import EmailReport
from bot.domain.status import Status

MAILGUN_EVENTS: dict[str, Status] = {
    "delivered": Status.DELIVERED,
    "opened": Status.OPENED,
    "clicked": Status.CLICKED,
    "failed": Status.FAILED,
    "complained": Status.COMPLAINED,
    "unsubscribed": Status.UNSUBSCRIBED,
}


def email_report(
    event: str, severity: str | None, code: str | None, reason: str | None
) -> EmailReport:
    """Translate a Mailgun event into an email report."""
    name = event.strip().lower()
    if name == "failed" and (severity or "").lower() == "temporary":
        return EmailReport(None, delayed=True, code=code, reason=reason)
    return EmailReport(MAILGUN_EVENTS.get(name), code=code, reason=reason)
