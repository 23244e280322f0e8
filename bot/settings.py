"""Process settings from the environment and .env; nothing else reads os.environ."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.delivery.smtp_url import smtp_endpoint
from bot.domain.contacts import format_mailbox, parse_mailbox, validate_region
from bot.domain.errors import InvalidInput
from bot.domain.pacing import SenderRates, SenderSetup, parse_rates


def split_keys(text: str) -> list[str]:
    """Read a comma-separated list of keys, blanks ignored."""
    return [key.strip() for key in text.split(",") if key.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default="sqlite:///reviewops.db", alias="DATABASE_URL")
    port: int = Field(default=3000, alias="PORT")
    public_url: str = Field(default="", alias="PUBLIC_URL")

    slack_bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(default=None, alias="SLACK_CLIENT_ID")
    slack_client_secret: str | None = Field(default=None, alias="SLACK_CLIENT_SECRET")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")

    twilio_account_sid: str | None = Field(default=None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(default=None, alias="TWILIO_AUTH_TOKEN")
    twilio_from: str | None = Field(default=None, alias="TWILIO_FROM")
    twilio_messaging_service_sid: str | None = Field(
        default=None, alias="TWILIO_MESSAGING_SERVICE_SID"
    )
    twilio_whatsapp_from: str | None = Field(default=None, alias="TWILIO_WHATSAPP_FROM")
    twilio_api_url: str = Field(default="https://api.twilio.com", alias="TWILIO_API_URL")

    smtp_url: str | None = Field(default=None, alias="SMTP_URL")
    email_from: str | None = Field(default=None, alias="EMAIL_FROM")
    email_reply_to: str | None = Field(default=None, alias="EMAIL_REPLY_TO")

    @field_validator("email_from", "email_reply_to")
    @classmethod
    def _mailbox(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Read `Name <address>` or a bare address; refused at start-up, not at the first send."""
        if value is None or not value.strip():
            return None
        try:
            name, address = parse_mailbox(value)
        except InvalidInput as exc:
            variable = str(info.field_name).upper()
            raise ValueError(f"{variable}: {exc.message}") from None
        # One canonical form, the display name quoted where it needs to be.
        return format_mailbox(name, address)

    mailgun_signing_key: str | None = Field(default=None, alias="MAILGUN_SIGNING_KEY")

    # Fernet keys sealing installed workspaces' bot tokens at rest, comma separated: the first
    # seals, any opens (rotation: store/installations.py). Required with OAuth.
    token_encryption_keys: str = Field(default="", alias="TOKEN_ENCRYPTION_KEYS", repr=False)

    @field_validator("token_encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: str) -> str:
        for number, key in enumerate(split_keys(value), start=1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise ValueError(
                    f"TOKEN_ENCRYPTION_KEYS: key {number} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes, as Fernet.generate_key() prints)."
                ) from None
        return value

    # The key of the hashes that keep an erased, opted-out customer uncontacted
    # (store/suppressions.py). Without it a built-in public key is used: matching still works,
    # but the hashes are only pseudonyms. Set it once and keep it: rows hashed under another
    # key no longer match.
    suppression_key: str = Field(default="", alias="SUPPRESSION_KEY", repr=False)
    # Days a workspace's customer data is kept after the app is uninstalled (Slack Marketplace
    # asks it be deleted); a reinstall within them keeps it. Only the environment can say it:
    # an uninstalled workspace can't edit its settings.
    uninstalled_retention_days: int = Field(
        default=30, ge=1, le=365, alias="UNINSTALLED_RETENTION_DAYS"
    )

    default_region: str = Field(default="US", alias="DEFAULT_REGION")
    # Outbound events may reach this machine and private networks (http, localhost, 10.x ...):
    # for development and tests only. Off, an events URL must lead to public addresses, checked
    # where it is typed and again at each send (bot/domain/events.py, scheduler/events_http.py).
    events_allow_private: bool = Field(default=False, alias="EVENTS_ALLOW_PRIVATE")

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        try:
            return validate_region(value)  # the one rule for region codes (bot/domain/contacts)
        except InvalidInput as exc:
            raise ValueError(f"DEFAULT_REGION: {exc.message}") from None

    @field_validator("smtp_url")
    @classmethod
    def _readable_smtp_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        smtp_endpoint(value)  # refused at start-up with its reason, not at the first email
        return value.strip()

    # Per-sender pace over the defaults by kind (bot/domain/pacing.py), like
    # `+15551234567=1,MG123=30,smtp=5,toll_free=3,whatsapp=off`.
    sender_rates: str = Field(default="", alias="SENDER_RATES")

    @field_validator("sender_rates")
    @classmethod
    def _readable_rates(cls, value: str) -> str:
        parse_rates(value)  # refused at start-up, with what is wrong, not at the first send
        return value

    # `serve`'s web tier: gunicorn worker processes (default: one per core but the scheduler's)
    # and threads in each.
    web_concurrency: int | None = Field(default=None, alias="WEB_CONCURRENCY", ge=1)
    web_threads: int = Field(default=8, alias="WEB_THREADS", ge=1)
    # The REST API's pace per key: a bucket of API_BURST calls refilled at API_RATE_PER_MINUTE
    # (per web worker: bot/api/limits.py).
    api_rate_per_minute: int = Field(default=600, alias="API_RATE_PER_MINUTE", ge=1)
    api_burst: int = Field(default=60, alias="API_BURST", ge=1)

    # Sends in flight per worker: a provider answers in ~200 ms, so one at a time caps a
    # worker near 5 messages/s, and 32 near 93 on a slow 2-core machine (whose batches are
    # smaller too: more CPU per message). 1 sends one after the other, as before.
    dispatch_concurrency: int = Field(default=48, ge=1, le=256, alias="DISPATCH_CONCURRENCY")

    # Logs: the level of our lines (libraries stay at WARNING unless DEBUG) and their form,
    # `text` for people or `json` (one object a line) for log pipelines (bot/logging_setup.py).
    # Unset: INFO for `serve` and `worker`, WARNING for one-shot commands (their output is
    # what they print).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = Field(
        default=None, alias="LOG_LEVEL"
    )
    log_format: Literal["text", "json"] = Field(default="text", alias="LOG_FORMAT")

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    # OpenTelemetry tracing (bot/tracing.py), off unless one of these is set and the `otel`
    # extra is installed; the SDK reads its other OTEL_* variables (headers, service name).
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_traces_exporter: str | None = Field(default=None, alias="OTEL_TRACES_EXPORTER")
    # Where `serve`'s processes keep the counters /metrics sums (bot/cli_run.py); default a
    # temporary directory of its own.
    prometheus_multiproc_dir: str | None = Field(default=None, alias="PROMETHEUS_MULTIPROC_DIR")

    @property
    def tracing_wanted(self) -> bool:
        exporter = (self.otel_traces_exporter or "").strip().lower()
        if exporter == "none":
            return False
        return bool(exporter or (self.otel_exporter_otlp_endpoint or "").strip())

    @property
    def oauth_installs(self) -> bool:
        """Workspaces install the app through OAuth (each stores its bot token), rather than
        one workspace's SLACK_BOT_TOKEN."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @model_validator(mode="after")
    def _oauth_seals_tokens(self) -> Settings:
        # With OAuth every workspace's bot token is stored: never in clear.
        if self.oauth_installs and not self.token_keys():
            raise ValueError(
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (OAuth install) need "
                "TOKEN_ENCRYPTION_KEYS, to seal the bot tokens they store."
            )
        return self

    def token_keys(self) -> list[str]:
        """Return the Fernet keys of TOKEN_ENCRYPTION_KEYS, the sealing one first."""
        return split_keys(self.token_encryption_keys)

    @model_validator(mode="after")
    def _default_public_url(self) -> Settings:
        if not self.public_url:
            self.public_url = f"http://localhost:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        return self

    def pacing_rates(self) -> SenderRates:
        return parse_rates(self.sender_rates)

    def sender_setup(self) -> SenderSetup:
        """Name the live senders (console senders are not paced)."""
        return SenderSetup(
            sms_from=self.twilio_from if self.sms_live else None,
            messaging_service_sid=self.twilio_messaging_service_sid if self.sms_live else None,
            whatsapp_from=self.twilio_whatsapp_from if self.whatsapp_live else None,
            smtp_host=(urlsplit(self.smtp_url).hostname or "smtp") if self.smtp_url else None,
        )

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def sms_live(self) -> bool:
        return self.twilio_configured and bool(
            self.twilio_from or self.twilio_messaging_service_sid
        )

    @property
    def whatsapp_live(self) -> bool:
        return self.twilio_configured and bool(self.twilio_whatsapp_from)

    @property
    def email_live(self) -> bool:
        return bool(self.smtp_url)

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_signing_secret and (self.slack_bot_token or self.slack_client_id))

    def senders_line(self) -> str:
        """Say in one line which senders are live and which print to the console."""

        def state(live: bool, what: str) -> str:
            return what if live else "console"

        return (
            f"senders: SMS={state(self.sms_live, 'Twilio')}, "
            f"WhatsApp={state(self.whatsapp_live, 'Twilio')}, "
            f"email={state(self.email_live, 'SMTP')}"
        )
