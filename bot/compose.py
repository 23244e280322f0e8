"""Turn a stored message into what a provider is handed: rendered text, sender, links."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.delivery.base import Channel, OutgoingMessage
from bot.domain import templating
from bot.domain.errors import InvalidInput
from bot.domain.policy import WorkspacePolicy
from store.models import SUBJECT_MAX, Message, ReviewRequest

# As long as a real link token (secrets.token_urlsafe(18)), so a preview costs what a send does.
SAMPLE_TOKEN = "x" * 24
SAMPLE_CONTEXT = {"name": "Jane Doe", "reference": "A-1042"}


@contextmanager
def workspace_text(setting: str) -> Iterator[None]:
    """Say which of the workspace's settings holds a text that can't be rendered, and where to
    fix it (a text saved under older template rules is refused here, when the message is sent).
    """
    try:
        yield
    except InvalidInput as exc:
        raise InvalidInput(
            f"The workspace's {setting} can't be used: {exc.message} Fix it in /reviews settings.",
            field=setting,
        ) from exc


class Composer:
    """Render messages with the workspace's templates and this deployment's public URLs."""

    def __init__(
        self, *, public_url: str, email_from: str | None = None, email_reply_to: str | None = None
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.email_from = email_from
        self.email_reply_to = email_reply_to

    def link(self, message: Message) -> str:
        return f"{self.public_url}/r/{message.token}"

    def unsubscribe_url(self, message: Message) -> str:
        return f"{self.public_url}/u/{message.token}"

    def pixel_url(self, message: Message) -> str:
        return f"{self.public_url}/o/{message.token}.gif"

    def status_callback_url(self) -> str:
        return f"{self.public_url}/webhooks/twilio/status"

    def compose(
        self, message: Message, request: ReviewRequest, policy: WorkspacePolicy
    ) -> OutgoingMessage:
        """Render one message for its channel and language."""
        assert message.id is not None
        language = request.language or policy.language
        context = {
            "name": request.customer_name,
            "business": policy.business_name or "us",
            "link": self.link(message),
            "reference": request.reference or "",
        }
        if message.channel == "email":
            return self._email(message, policy, context, language)
        channel: Channel
        if message.channel == "whatsapp":
            channel = "whatsapp"
            body = templating.render(templating.load_default("whatsapp.txt.j2", language), context)
        else:
            channel = "sms"
            with workspace_text("sms_template"):
                body = templating.compose_sms(policy.sms_template or None, context, language)
        return OutgoingMessage(
            message_id=message.id,
            channel=channel,
            to=message.to_address,
            body_text=body,
            sender_name=(policy.sms_sender or None) if channel == "sms" else None,
            status_callback_url=self.status_callback_url(),
        )

    def _email(
        self, message: Message, policy: WorkspacePolicy, context: dict[str, str], language: str
    ) -> OutgoingMessage:
        """Render an email: subject, text and HTML parts, always with the unsubscribe link."""
        assert message.id is not None
        context["unsubscribe_link"] = self.unsubscribe_url(message)
        context["pixel_url"] = self.pixel_url(message)
        subject = self._subject(policy, context, language)
        if policy.email_body:
            # The workspace's own words in both parts; the unsubscribe link always there.
            with workspace_text("email_body"):
                body_text = templating.fill(
                    policy.email_body, context, limit=templating.EMAIL_BODY_MAX
                )
            body_html = templating.plain_to_html(
                body_text,
                unsubscribe_url=context["unsubscribe_link"],
                pixel_url=context["pixel_url"],
            )
            if context["unsubscribe_link"] not in body_text:
                body_text = f"{body_text.rstrip()}\n\nUnsubscribe: {context['unsubscribe_link']}\n"
        else:
            body_text = templating.render(
                templating.load_default("email.txt.j2", language), context
            )
            body_html = templating.render_html(
                templating.load_default("email.html.j2", language), context
            )
        return OutgoingMessage(
            message_id=message.id,
            channel="email",
            to=message.to_address,
            subject=_fitted_subject(subject),
            body_text=body_text,
            body_html=body_html,
            sender_name=policy.email_from_name or policy.business_name or None,
            from_address=policy.email_from or self.email_from,
            reply_to=policy.email_reply_to or self.email_reply_to,
            unsubscribe_url=self.unsubscribe_url(message),
        )

    @staticmethod
    def _subject(policy: WorkspacePolicy, context: dict[str, str], language: str) -> str:
        if not policy.email_subject:
            default = templating.load_default("email_subject.txt.j2", language)
            return templating.render(default, context).strip()
        with workspace_text("email_subject"):
            # A text saved under today's rules fits EMAIL_SUBJECT_MAX with the longest values;
            # one saved before is cut by _fitted_subject rather than fail its message.
            return templating.fill(policy.email_subject, context).strip()

    def preview_sms(self, policy: WorkspacePolicy, custom_text: str, language: str) -> str:
        """Render the SMS a customer would get from this text (the default when empty).

        :raise InvalidInput: the text is not a usable template.
        """
        context = {
            **SAMPLE_CONTEXT,
            "business": policy.business_name or "us",
            "link": f"{self.public_url}/r/{SAMPLE_TOKEN}",
        }
        return templating.compose_sms(custom_text.strip() or None, context, language)


def _fitted_subject(rendered: str) -> str:
    """One line of at most SUBJECT_MAX characters. How long a subject renders depends on the
    customer's name, so a subject template can't be refused for it when typed; one that
    renders longer is cut here rather than break the send (mail clients cut far sooner)."""
    subject = " ".join(rendered.split())
    return subject if len(subject) <= SUBJECT_MAX else subject[: SUBJECT_MAX - 1] + "…"
