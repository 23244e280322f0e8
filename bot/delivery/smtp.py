"""The SMTP sender: multipart email with one-click unsubscribe headers, through smtplib."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

from bot.delivery.base import Outcome, OutgoingMessage, SendResult
from bot.delivery.smtp_url import smtp_endpoint
from bot.domain.contacts import read_mailbox
from bot.domain.errors import InvalidInput
from bot.domain.typed_text import without_control_characters

PROVIDER = "smtp"


class SmtpSender:
    """Send email through an SMTP server given as smtp://user:pass@host:port or smtps://..."""

    name = PROVIDER

    def __init__(
        self,
        url: str,
        *,
        default_from: str,
        default_reply_to: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        endpoint = smtp_endpoint(url)
        self.implicit_tls = endpoint.implicit_tls
        self.host = endpoint.host
        self.port = endpoint.port
        self.username = endpoint.username
        self.password = endpoint.password
        self.default_from = default_from
        self.default_reply_to = default_reply_to
        self.timeout = timeout

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """Build the MIME message: text and HTML alternatives, envelope and unsubscribe headers."""
        sender = self.sender(message)
        email = EmailMessage()
        email["Subject"] = header_text(message.subject or "")
        email["From"] = sender
        email["To"] = message.to
        reply_to = message.reply_to or self.default_reply_to
        if reply_to:
            email["Reply-To"] = reply_to
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(domain=sender.domain or "localhost")
        if message.unsubscribe_url:
            email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            # RFC 8058: mailbox providers may unsubscribe with one POST, no page visit.
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email.set_content(message.body_text)
        if message.body_html:
            email.add_alternative(message.body_html, subtype="html")
        return email

    def sender(self, message: OutgoingMessage) -> Address:
        """The From mailbox: the workspace's name for it, else the one EMAIL_FROM gives.

        The address is `Name <address>` or bare (EMAIL_FROM, validated at start-up) or the
        workspace's own address; `Address` quotes or encodes the name as the header needs.
        """
        mailbox = read_mailbox(message.from_address or self.default_from)
        name = header_text(message.sender_name or "") or mailbox.display_name
        return Address(display_name=name, username=mailbox.username, domain=mailbox.domain)

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            email = self.build(message)
        except InvalidInput as exc:
            # Nothing was handed over, and the same message would be refused again.
            return SendResult(Outcome.FAILED, PROVIDER, reason=f"Email not written: {exc.message}")
        except (ValueError, HeaderParseError) as exc:
            return SendResult(Outcome.FAILED, PROVIDER, reason=f"Email not written: {exc}")
        message_id = str(email["Message-ID"])
        try:
            connection = self._connect()
        except smtplib.SMTPResponseException as exc:  # before OSError: it is one
            return self._refused(exc.smtp_code, exc.smtp_error, before_data=True)
        except (ConnectionError, socket.gaierror, TimeoutError, OSError) as exc:
            # Nothing was handed over: safe to try again later.
            return SendResult(Outcome.RETRY, PROVIDER, reason=f"SMTP server unreachable: {exc}")
        try:
            return self._transmit(connection, email, message_id)
        finally:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
        if self.username:
            connection.login(self.username, self.password or "")
        return connection

    def _transmit(
        self, connection: smtplib.SMTP, email: EmailMessage, message_id: str
    ) -> SendResult:
        sender = email["From"].addresses[0].addr_spec
        recipient = str(email["To"])
        # Everything up to RCPT can fail without the server keeping the message.
        try:
            code, reply = connection.mail(sender)
            if code >= 400:
                return self._refused(code, reply, before_data=True)
            code, reply = connection.rcpt(recipient)
            if code >= 400:
                connection.rset()
                return self._refused(code, reply, before_data=True)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            return SendResult(Outcome.RETRY, PROVIDER, reason=f"SMTP connection lost: {exc}")
        # From DATA on, a lost answer may mean the server queued the message: never resend.
        try:
            # SMTP needs CRLF line ends; smtplib does not convert them for bytes.
            code, reply = connection.data(email.as_bytes(policy=SMTP_POLICY))
        except smtplib.SMTPDataError as exc:
            return self._refused(exc.smtp_code, exc.smtp_error, before_data=False)
        except (smtplib.SMTPServerDisconnected, OSError, smtplib.SMTPException) as exc:
            return SendResult(
                Outcome.UNKNOWN,
                PROVIDER,
                provider_id=message_id,
                reason=f"No answer to DATA: {exc}",
            )
        if code != 250:
            return self._refused(code, reply, before_data=False)
        return SendResult(Outcome.SENT, PROVIDER, provider_id=message_id)

    def _refused(self, code: int, reply: bytes | str, *, before_data: bool) -> SendResult:
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        if 400 <= code < 500:
            return SendResult(
                Outcome.RETRY, PROVIDER, error_code=str(code), reason=f"{code} {text}".strip()
            )
        return SendResult(
            Outcome.FAILED, PROVIDER, error_code=str(code), reason=f"{code} {text}".strip()
        )


def header_text(text: str) -> str:
    """A setting's text as one header line: a line break in it could start a new header."""
    return " ".join(without_control_characters(text).split())
