"""The console sender: prints messages instead of delivering them (no provider configured)."""

from __future__ import annotations

import secrets
import sys
import threading
from typing import TextIO

from bot.delivery.base import Outcome, OutgoingMessage, SendResult

_LABELS = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "email"}


class ConsoleSender:
    """Print each message to a stream and report it sent "by the console", visibly so."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()  # keep concurrent messages from interleaving

    def send(self, message: OutgoingMessage) -> SendResult:
        stream = self._stream or sys.stdout
        label = _LABELS.get(message.channel, message.channel)
        lines = [f"--- console {label} to {message.to} (message {message.message_id}) ---"]
        if message.sender_name:
            lines.append(f"From: {message.sender_name}")
        if message.subject:
            lines.append(f"Subject: {message.subject}")
        lines += [message.body_text.rstrip(), "--- end ---"]
        with self._lock:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        return SendResult(
            Outcome.SENT,
            provider=self.name,
            provider_id=f"console-{message.message_id}-{secrets.token_hex(4)}",
        )
