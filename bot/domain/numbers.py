"""Request numbers as people write them: "42" or "#42", several ("#42 43", "#42, #43"), ranges ("40-45")."""

from __future__ import annotations

import re

from bot.domain.bounds import within
from bot.domain.errors import InvalidInput

MAX_NUMBERS = 100  # requests one command may name, a range included
# Room for MAX_NUMBERS numbers as "#123456789, " and a little more: read no further.
MAX_NUMBERS_TEXT = 1500
MAX_NUMBER_TEXT = 20  # one number, as a button or menu value holds it

_NUMBER = re.compile(r"^#?(?P<n>\d{1,9})$")
_RANGE = re.compile(r"^#?(?P<a>\d{1,9})-#?(?P<b>\d{1,9})$")


def parse_number(value: str) -> int:
    """Read one request number ("42" or "#42"), as a button or menu value holds it.

    :raise InvalidInput: it is not one.
    """
    if len(value or "") > MAX_NUMBER_TEXT:
        raise InvalidInput("That is not a request number.")
    single = _NUMBER.match((value or "").strip())
    if single is None:
        raise InvalidInput(f"'{value}' is not a request number.")
    return int(single["n"])


def parse_numbers(text: str) -> list[int]:
    """Read request numbers: "#42 43", "#42, #43" or a range "40-45", each once, in order.

    :raise InvalidInput: no number, a word that is not one, a bad range or too many.
    """
    text = within(text, MAX_NUMBERS_TEXT, what="That list of requests", field="numbers")
    numbers: list[int] = []
    for token in re.split(r"[\s,]+", text.strip()):
        if token:
            numbers.extend(_parse_token(token))
    if not numbers:
        raise InvalidInput("Say which requests: for example #42, or #42 43.", field="numbers")
    numbers = list(dict.fromkeys(numbers))
    if len(numbers) > MAX_NUMBERS:
        raise InvalidInput(f"At most {MAX_NUMBERS} requests at a time.", field="numbers")
    return numbers


def _parse_token(token: str) -> list[int]:
    single = _NUMBER.match(token)
    if single:
        return [int(single["n"])]
    span = _RANGE.match(token)
    if span is None:
        raise InvalidInput(
            f"'{token}' is not a request number (write #42, or several: #42 43).",
            field="numbers",
        )
    low, high = int(span["a"]), int(span["b"])
    if high < low or high - low >= MAX_NUMBERS:
        raise InvalidInput(
            f"'{token}' is not a range I can use (like 40-45, at most {MAX_NUMBERS}).",
            field="numbers",
        )
    return list(range(low, high + 1))
