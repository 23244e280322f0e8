"""Channels and methods: their names as the team reads them, and which go to a phone."""

from __future__ import annotations

CHANNELS: tuple[str, ...] = ("sms", "whatsapp", "email")

# STOP opts a number out of both: they share one opt-out (Contact.phone_opted_out_at).
PHONE_CHANNELS: tuple[str, ...] = ("sms", "whatsapp")

CHANNEL_LABELS: dict[str, str] = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "Email"}

METHOD_LABELS: dict[str, str] = {
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "email": "Email",
    "sms_or_email": "SMS, else email",
    "sms_and_email": "SMS and email",
}


def channel_label(channel: str) -> str:
    """Return a channel's name as the team reads it ("SMS", "WhatsApp", "Email")."""
    return CHANNEL_LABELS.get(channel, channel)


def channels_label(channels: str) -> str:
    """Say how a request goes out, from its stored channel ("sms+email" -> "SMS + Email")."""
    return " + ".join(channel_label(c) for c in channels.split("+") if c)


def channel_in_sentence(channel: str) -> str:
    """Return a channel's name inside a sentence ("sent by email", "sent by SMS")."""
    label = channel_label(channel)
    return label.lower() if channel == "email" else label
