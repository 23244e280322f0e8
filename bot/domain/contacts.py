"""Contact normalisation: phone numbers to E.164 (phonenumbers), emails (email-validator), names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import default as default_email_policy
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from bot.domain.errors import InvalidInput
from bot.domain.typed_text import control_character_reason

# Numbers that cannot take an SMS. Personal, VoIP and fixed-or-mobile numbers can.
_NO_SMS_TYPES = {
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOICEMAIL,
    PhoneNumberType.UAN,
}


def validate_region(code: str) -> str:
    """Return an uppercase region code phonenumbers knows.

    :raise InvalidInput: unknown region.
    """
    region = (code or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(
            f"'{code}' is not a known country code (like FR, SE or US).", field="region"
        )
    return region


def _candidates(raw: str, region: str) -> Iterator[phonenumbers.PhoneNumber]:
    """Yield the readings of a typed number, the likeliest first (parsed one at a time)."""
    digits = re.sub(r"\D", "", raw)
    attempts: list[tuple[str, str | None]] = [(raw, region)]
    if not raw.strip().startswith("+") and digits:
        if digits.startswith("00"):
            attempts.append(("+" + digits[2:], None))
        # "33610203040": the country code written without "+" (common in CSV exports).
        attempts.append(("+" + digits, None))
        # "610203040": a national number missing its trunk prefix "0".
        attempts.append(("0" + digits, region))
    for text, reg in attempts:
        try:
            yield phonenumbers.parse(text, reg)
        except NumberParseException:
            continue


def normalize_phone(raw: str, region: str, *, require_mobile: bool) -> str:
    """Return the number in E.164, reading national forms with the workspace region.

    :raise InvalidInput: not a valid number, or a landline where a mobile is required.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("Give a phone number.", field="phone")
    # Prefer a reading in the workspace's own country, then the first valid one. Readings are
    # parsed in order and the first valid one in the region wins at once (a CSV import reads
    # 100,000 numbers: most are national numbers, right the first time).
    number = None
    for candidate in _candidates(text, region):
        if not phonenumbers.is_valid_number(candidate):
            continue
        if phonenumbers.region_code_for_number(candidate) == region:
            number = candidate
            break
        number = number or candidate
    if number is None:
        raise InvalidInput(f"'{text}' is not a valid phone number for {region}.", field="phone")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if require_mobile and not is_mobile(e164):
        raise InvalidInput(not_mobile_reason(e164), field="phone")
    return e164


_PHONE_TYPED = re.compile(r"[+\d\s().\-/]+")


def looks_like_phone(text: str) -> bool:
    """Say whether a text is typed like a phone number: digits, spaces, +, (), dots, dashes, slashes."""
    return bool(_PHONE_TYPED.fullmatch(text)) and any(c.isdigit() for c in text)


@dataclass(frozen=True)
class PhoneSearch:
    """What a search text means as a phone number, in the E.164 form numbers are stored in."""

    e164: str | None = None  # the whole number, when the text is one
    prefix: str | None = None  # the start of a number: "06 10" in FR is "+33610"
    digits: str | None = None  # the digits alone, to match anywhere in a stored number


def phone_search(text: str, region: str) -> PhoneSearch:
    """Read a search text as a phone number typed in any format, whole or partial."""
    cleaned = (text or "").strip()
    digits = re.sub(r"\D", "", cleaned)
    if not _PHONE_TYPED.fullmatch(cleaned or "x") or len(digits) < 3:
        return PhoneSearch()
    e164: str | None = None
    if len(digits) >= 6:
        try:
            e164 = normalize_phone(cleaned, region, require_mobile=False)
        except InvalidInput:
            e164 = None
    prefix: str | None = None
    if cleaned.startswith("+"):
        prefix = "+" + digits
    elif digits.startswith("00"):
        prefix = "+" + digits[2:]
    else:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        trunk = metadata.national_prefix if metadata is not None else None
        if trunk and digits.startswith(trunk) and len(digits) > len(trunk):
            code = phonenumbers.country_code_for_region(region)
            prefix = f"+{code}{digits[len(trunk) :]}"
    return PhoneSearch(e164=e164, prefix=None if prefix == e164 else prefix, digits=digits)


@lru_cache(maxsize=1024)
def parse_e164(e164: str) -> phonenumbers.PhoneNumber | None:
    """Parse a stored (E.164) number, or None; cached: checking a new request reads it twice
    (can it get texts, in which zones), and an import checks 100,000 of them."""
    try:
        return phonenumbers.parse(e164, None)
    except NumberParseException:
        return None


def is_mobile(e164: str) -> bool:
    """Say whether a number can receive SMS (mobile, or a fixed-or-mobile numbering plan)."""
    number = parse_e164(e164)
    if number is None:
        return False
    return phonenumbers.number_type(number) not in _NO_SMS_TYPES


def not_mobile_reason(e164: str, what: str = "SMS or WhatsApp") -> str:
    """Explain why a number can't receive a text message."""
    shown = format_phone_international(e164)
    if phonenumbers.number_type(phonenumbers.parse(e164, None)) == PhoneNumberType.FIXED_LINE:
        return f"{shown} is a landline, which can't receive {what}."
    return f"{shown} is not a mobile number, so it can't receive {what}."


def format_phone_international(e164: str) -> str:
    """Return a number as people write it internationally (+33 6 10 20 30 40)."""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), PhoneNumberFormat.INTERNATIONAL
        )
    except NumberParseException:
        return e164


def normalize_email(raw: str, *, sender: bool = False) -> str:
    """Return the normalised address (syntax only: no DNS lookups).

    A `sender` address is our own From or Reply-To: nothing is delivered to it by us, so the
    reserved test domains staging setups use (reviews@shop.test) are accepted there.

    :raise InvalidInput: not a valid address, with the reason.
    """
    text = (raw or "").strip()
    try:
        return validate_email(text, check_deliverability=False, test_environment=sender).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(f"'{text}' is not a valid email address: {exc}", field="email") from exc


def tidy_name(raw: str) -> str:
    """Return a name with its runs of spaces, tabs and line breaks made single spaces."""
    return " ".join(raw.split())


def normalize_name(raw: str | None) -> str:
    """Return a tidy display name; an empty one becomes "customer".

    Its length is the input model's to check (bot/usecases/inputs.py): never cut here.
    """
    return tidy_name(raw or "") or "customer"


def read_mailbox(raw: str) -> Address:
    """Read one `Name <address>` or bare address as an email header would (syntax only).

    :raise InvalidInput: not exactly one well-formed address, or a control character in it.
    """
    text = (raw or "").strip()
    problem = control_character_reason(text)
    if problem:
        raise InvalidInput(f"The sender {problem}.", field="email")
    refusal = InvalidInput(
        f"'{text}' is not an address like reviews@example.com or "
        "Example Shop <reviews@example.com>.",
        field="email",
    )
    try:
        header = default_email_policy.header_factory("From", text)
        addresses = header.addresses
    except (IndexError, ValueError) as exc:  # the stdlib parser trips on some ("a@")
        raise refusal from exc
    if len(addresses) != 1 or header.defects or not addresses[0].domain:
        raise refusal
    mailbox: Address = addresses[0]
    return mailbox


def parse_mailbox(raw: str) -> tuple[str, str]:
    """Read a sender, `Name <address>` or a bare address, into (display name, address).

    :raise InvalidInput: not exactly one valid address, with the reason.
    """
    mailbox = read_mailbox(raw)
    return str(mailbox.display_name), normalize_email(str(mailbox.addr_spec), sender=True)


def format_mailbox(display_name: str, address: str) -> str:
    """Write a mailbox as a header holds it: the name quoted where it needs to be."""
    return str(Address(display_name=display_name, addr_spec=address))


def mask_phone(e164: str | None) -> str:
    """Hide all but the country code and last two digits, for channel messages."""
    if not e164:
        return ""
    return f"{_country_prefix(e164)} •••• ••{e164[-2:]}".strip()


def _country_prefix(e164: str) -> str:
    # Country codes are prefix-free (ITU E.164), so the first one that exists is the one:
    # a table lookup instead of parsing the whole number (every masked log line and card).
    if not e164.startswith("+") or e164.startswith("+0"):
        return ""
    for size in (1, 2, 3):
        code = e164[1 : 1 + size]
        if code.isdigit() and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return f"+{code}"
    return ""


def mask_email(email: str | None) -> str:
    """Hide the local part but its first letter, for channel messages."""
    if not email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def mask_contact(phone: str | None, email: str | None) -> str:
    """Mask whichever contact details there are, phone first."""
    return " / ".join(x for x in (mask_phone(phone), mask_email(email)) if x)
