"""Workspace settings (the request policy): defaults, validation, and KEY=VALUE editing."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.domain import contacts, events, quiet_hours, templating, timing, window
from bot.domain.digest import DEFAULT_DIGEST_TIME, parse_digest_time
from bot.domain.errors import InvalidInput
from bot.domain.sealed import is_sealed
from bot.domain.typed_text import (
    control_character_reason,
    too_long_reason,
    validation_reason,
    without_control_characters,
)

Method = Literal["sms", "whatsapp", "email", "sms_or_email", "sms_and_email"]
_SENDER = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
# A Slack user or enterprise user id ("U0123ABC", "W0123ABC"), as opposed to a CLI actor.
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
SMS_CUSTOM_MAX = 110
# Settings read back from the database (validation context): the workspace's own texts are
# then checked when rendered (bot/domain/templating.fill), so one saved under older template
# rules fails its messages with the reason instead of every read of the settings; control
# characters stored before they were refused are cleaned, not refused.
# Settings whose text may span lines; every other one is a single line (a name, an address,
# a subject, a URL), where a line break would reach an email header or a link.
MULTILINE_SETTINGS = frozenset({"sms_template", "email_body"})
# Limits checked when a value is typed, not on values stored before they existed (a stored
# policy that no longer passed would stop every send of its workspace).
# Short ones also keep a pasted page of text out of the refusal that quotes the value.
TYPED_LIMITS = {
    "landing_url_service": 2000,
    "landing_url_product": 2000,
    "timezone": 64,
    "region": 8,
    "send_window": 200,
    "holidays": 8,
    "quiet_hours": 32,
    "delay": 32,
    "order_delay": 32,
    "currency": 8,
    "digest_time": 16,
}
STORED = {"stored": True}
# The shortest retention: a request's replies, reminders and stats need a month to settle.
MIN_RETENTION_DAYS = 30
SECRET_MAX = 200  # a shop's webhook signing secret (Shopify's and Stripe's are under 100)


def _url(value: str) -> str:
    value = value.strip()
    if value and not re.match(r"^https?://[^\s/$.?#].[^\s]*$", value):
        raise ValueError(f"'{value}' is not a web address (https://...).")
    return value


class WorkspacePolicy(BaseModel):
    """A workspace's settings, validated field by field; stored as JSON on the workspace."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    business_name: str = Field(default="", max_length=80)
    timezone: str = "UTC"
    region: str = "US"
    language: str = "en"  # one of templating.LANGUAGES
    send_window: str = "mon-fri 09:00-19:00"
    holidays: str | None = None
    quiet_hours: str = quiet_hours.DEFAULT_QUIET_HOURS  # recipient's local hours, for texts
    delay: str = "0"
    method: Method = "sms_or_email"
    reminders: int = Field(default=0, ge=0, le=5)
    reminder_interval_days: int = Field(default=3, ge=1, le=60)
    reminder_channel: Literal["auto", "sms", "whatsapp", "email"] = "auto"
    fallback_email: bool = True
    cooldown_days: int = Field(default=30, ge=0, le=3650)
    # Days customer data is kept (0: forever); older is erased daily (bot/usecases/erasure.py).
    retention_days: int = Field(default=1095, ge=0, le=3650)
    landing_url_service: str = ""
    landing_url_product: str = ""
    landing_urls: dict[str, str] = Field(default_factory=dict)  # "service.fr" -> URL
    sms_sender: str = ""
    sms_template: str = ""
    sms_price: Decimal = Decimal("0.045")
    currency: str = "EUR"
    email_from: str = ""
    email_from_name: str = Field(default="", max_length=80)
    email_reply_to: str = ""
    email_subject: str = Field(default="", max_length=200)
    email_body: str = Field(default="", max_length=5000)
    notify_channel: str = ""
    alert_channel: str = ""
    admins: list[str] = Field(default_factory=list)
    # On: every new request needs the sender's word that the customer agreed to be contacted.
    require_consent: bool = False
    # Order triggers (bot/order_webhooks.py): each shop's signing secret (write-only, maybe
    # sealed: bot/domain/sealed.py) and its switch; without its secret it refuses every event.
    shopify_secret: str = ""
    shopify_orders: bool = True
    stripe_secret: str = ""
    stripe_orders: bool = True
    # A triggered request's delay ("" : the workspace's `delay`) and review type.
    order_delay: str = ""
    order_review_type: Literal["service", "product"] = "service"
    # Outbound events: signed webhooks to the workspace's own system (bot/domain/events.py).
    events_url: str = ""
    events_secret: str = Field(default="", validate_default=True)  # write-only
    # The digest of the outreach (scheduler/digest.py): when, and where (else notify_channel).
    digest: Literal["off", "daily", "weekly"] = "off"
    digest_time: str = DEFAULT_DIGEST_TIME  # local, workspace timezone; weekly: on Mondays
    digest_channel: str = Field(default="", validate_default=True)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return supported_language(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _domain(window.validate_timezone, value)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _domain(contacts.validate_region, value)

    @field_validator("send_window")
    @classmethod
    def _window(cls, value: str) -> str:
        return window.format_window(_domain(window.parse_window, value))

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        return str(_domain(quiet_hours.parse_quiet_hours, value))

    @field_validator("holidays", mode="before")
    @classmethod
    def _holidays(cls, value: Any) -> str | None:
        return _domain(window.validate_holiday_country, value)

    @field_validator("delay", "order_delay")
    @classmethod
    def _delay(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "order_delay" and not value.strip():
            return ""  # the workspace's delay
        field = str(info.field_name)
        return timing.format_delay(_domain(timing.parse_delay, value, field=field))

    @field_validator("landing_url_service", "landing_url_product")
    @classmethod
    def _landing(cls, value: str) -> str:
        return _url(value)

    @field_validator("landing_urls")
    @classmethod
    def _landings(cls, value: dict[str, str]) -> dict[str, str]:
        for key, url in value.items():
            kind, _, lang = key.partition(".")
            if kind not in ("service", "product") or lang not in templating.LANGUAGES:
                raise ValueError(f"'{key}' must look like service.fr or product.sv.")
            _url(url)
        return value

    @field_validator("sms_sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        if not _SENDER.match(value):
            raise ValueError("The SMS sender name has at most 11 letters, digits and spaces.")
        if value.replace(" ", "").isdigit():
            raise ValueError("The SMS sender name can't be digits only.")
        return value

    @field_validator("sms_template")
    @classmethod
    def _sms_template(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if len(value) > SMS_CUSTOM_MAX:
            raise ValueError(
                f"The SMS text is {len(value)} characters; at most {SMS_CUSTOM_MAX} "
                "(the link and STOP notice are added after it)."
            )
        if value and not _stored(info):
            _domain(templating.validate_sms_text, value, field="sms_template")
        return value

    @field_validator("email_subject", "email_body")
    @classmethod
    def _email_templates(cls, value: str, info: ValidationInfo) -> str:
        if value and not _stored(info):
            subject = info.field_name == "email_subject"
            _domain(
                templating.validate_template,
                value,
                allowed=templating.EMAIL_PLACEHOLDERS,
                field="email_template",
                max_chars=templating.EMAIL_SUBJECT_MAX if subject else templating.EMAIL_BODY_MAX,
            )
        return value

    @field_validator("email_from", "email_reply_to")
    @classmethod
    def _email(cls, value: str) -> str:
        return _domain(contacts.normalize_email, value, sender=True) if value.strip() else ""

    @field_validator("shopify_secret", "stripe_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        if is_sealed(value):
            return value
        value = value.strip()
        if len(value) > SECRET_MAX:
            raise ValueError(too_long_reason(SECRET_MAX, len(value)))
        if any(c.isspace() for c in value):
            raise ValueError("A signing secret has no spaces: paste it as the shop shows it.")
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if 0 < value < MIN_RETENTION_DAYS:
            raise ValueError(
                f"Keep customer data at least {MIN_RETENTION_DAYS} days, or 0 to keep it forever."
            )
        return value

    @field_validator("sms_price")
    @classmethod
    def _price(cls, value: Decimal) -> Decimal:
        if value < 0 or value > 10:
            raise ValueError("The SMS price must be between 0 and 10.")
        return value

    @field_validator("notify_channel", "alert_channel", "digest_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        value = value.strip().lstrip("#") if value.strip().startswith("#") else value.strip()
        if value and not _SLACK_CHANNEL.match(value):
            raise ValueError(f"'{value}' is not a Slack channel id (like C0123ABCD).")
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        return _domain(parse_digest_time, value)

    @field_validator("digest_channel")
    @classmethod
    def _digest_somewhere(cls, value: str, info: ValidationInfo) -> str:
        # Declared after notify_channel and digest, so both are in info.data when valid.
        on = info.data.get("digest", "off") != "off"
        if on and not value and not info.data.get("notify_channel") and not _stored(info):
            raise ValueError("Choose the channel the digest goes to (or a notify channel).")
        return value

    @field_validator("admins", mode="before")
    @classmethod
    def _admins(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value or [])
        cleaned = [str(i).strip().removeprefix("<@").removesuffix(">") for i in items]
        cleaned = [i for i in cleaned if i]
        for item in cleaned:
            if not SLACK_USER_ID.match(item):
                raise ValueError(f"'{item}' is not a Slack user id (like U0123ABCD).")
        return cleaned

    @field_validator("events_url")
    @classmethod
    def _events_url(cls, value: str, info: ValidationInfo) -> str:
        return value if _stored(info) else _domain(events.validate_events_url, value)

    @field_validator("events_secret")
    @classmethod
    def _events_secret(cls, value: str, info: ValidationInfo) -> str:
        if _stored(info) or is_sealed(value):
            return value
        value = _domain(events.validate_events_secret, value)
        if info.data.get("events_url") and not value:
            raise ValueError("Events are signed: set events_secret too (whsec_...).")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _typed_text(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse control characters in every text of a setting where it is typed; clean them
        out of a value stored before they were refused. Defined last, so it runs before the
        other "before" validators (pydantic runs those last-defined first)."""
        return _checked(value, str(info.field_name), stored=_stored(info))

    def landing_url(self, review_type: str, language: str) -> str:
        """Return the landing page for a review type in a language (its own, else the default)."""
        specific = self.landing_urls.get(f"{review_type}.{language}")
        if specific:
            return specific
        return self.landing_url_product if review_type == "product" else self.landing_url_service


def _stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("stored"))


def supported_language(value: str) -> str:
    """Return a language messages are sent in (templating.LANGUAGES), lowercase.

    :raise ValueError: any other, naming those there are.
    """
    language = value.strip().lower()
    if language not in templating.LANGUAGES:
        *others, last = templating.LANGUAGES
        raise ValueError(
            f"'{value}' is not a language reviews are sent in: use {', '.join(others)} or {last}"
        )
    return language


def _checked(value: Any, field: str, *, stored: bool) -> Any:
    if isinstance(value, list):
        return [_checked(item, field, stored=stored) for item in value]
    if isinstance(value, dict):
        return {
            _checked(k, field, stored=stored): _checked(v, field, stored=stored)
            for k, v in value.items()
        }
    if not isinstance(value, str):
        return value
    multiline = field in MULTILINE_SETTINGS
    if stored:
        return without_control_characters(value, multiline=multiline)
    problem = control_character_reason(value, multiline=multiline)
    if problem:
        raise ValueError(problem)
    limit = TYPED_LIMITS.get(field)
    if limit is not None and len(value) > limit:
        raise ValueError(too_long_reason(limit, len(value)))
    return value


def _domain(func: Any, *args: Any, **kwargs: Any) -> Any:
    # Pydantic reports ValueError text; our domain checks raise InvalidInput.
    try:
        return func(*args, **kwargs)
    except InvalidInput as exc:
        raise ValueError(exc.message) from exc


SETTING_KEYS = tuple(WorkspacePolicy.model_fields)


def policy_errors(data: dict[str, Any]) -> dict[str, str]:
    """Validate settings and map each invalid field to its reason (empty when all are valid)."""
    try:
        WorkspacePolicy.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "settings"
            errors.setdefault(key, validation_reason(error))
        return errors
    return {}
