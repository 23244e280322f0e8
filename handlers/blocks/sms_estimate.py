"""The live SMS estimate under the settings modal's SMS text: segments, encoding, price."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

from bot.domain import templating
from bot.domain.policy import SMS_CUSTOM_MAX
from handlers.blocks.limits import MAX_TEXT
from handlers.text import escape

SMS_PREVIEW_BLOCK = "sms_preview"


def format_price(amount: Decimal) -> str:
    """Write an amount without trailing zeros: 0.09, 0.045, 1."""
    text = f"{amount.normalize():f}"
    return text if text not in ("-0", "") else "0"


@dataclass(frozen=True)
class SmsEstimate:
    """What the SMS text costs: segments, encoding, price, or why it can't be used yet."""

    custom_length: int
    segments: int = 0
    encoding: str = ""
    cost: Decimal = Decimal(0)
    currency: str = "EUR"
    problem: str | None = None

    def line(self) -> str:
        """Say it in one line: "2 segments (GSM-7) · est. 0.09 EUR per request · ..."."""
        used = f"{self.custom_length}/{SMS_CUSTOM_MAX} characters of your text"
        if self.problem:  # may quote the admin's own text: shown as typed
            return f":warning: {escape(self.problem)} · {used}"
        noun = "segment" if self.segments == 1 else "segments"
        return (
            f"{self.segments} {noun} ({self.encoding}) · est. {format_price(self.cost)} "
            f"{escape(self.currency)} per request · {used}, with the link and the STOP notice added"
        )


def estimate_sms(
    rendered: str | None,
    custom_text: str,
    price: Decimal,
    currency: str,
    *,
    problem: str | None = None,
) -> SmsEstimate:
    """Count the segments of a rendered SMS and price them; `problem` says why it can't be used."""
    length = len(custom_text.strip())
    if rendered is None or problem:
        return SmsEstimate(length, currency=currency, problem=problem or "This text can't be used")
    info = templating.sms_segments(rendered)
    return SmsEstimate(length, info.segments, info.encoding, price * info.segments, currency)


def sms_preview_block(estimate: SmsEstimate) -> ContextBlock:
    """The context line under the SMS text field."""
    return ContextBlock(
        block_id=SMS_PREVIEW_BLOCK,
        elements=[MarkdownTextObject(text=estimate.line()[:MAX_TEXT])],
    )
