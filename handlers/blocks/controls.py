"""Controls shared by the list page, a request's details and the customer view (pure, no I/O).

Kept apart from listing.py, detail.py and customer.py so that each can use them without
importing the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    InputBlock,
)

from bot.domain.errors import InvalidInput
from bot.domain.numbers import parse_number
from handlers.blocks.common import option
from handlers.blocks.limits import MAX_BUTTON_TEXT, MAX_CHECKBOX_OPTIONS
from handlers.text import clip

# Action and block ids the listeners match on.
BULK_SELECT = "list_select"  # the checkboxes' action_id (an input block: no action of its own)
BULK_SELECT_BLOCK = "list_select_"  # + 0, 1 ...: one input block per 10 rows
BULK_ACTIONS_BLOCK = "list_bulk"
BULK_CANCEL = "list_bulk_cancel"
BULK_PAUSE = "list_bulk_pause"
BULK_RESUME = "list_bulk_resume"
BULK_VERBS = {BULK_CANCEL: "canceled", BULK_PAUSE: "paused", BULK_RESUME: "resumed"}
CUSTOMER_OPEN = "customer_open"
CUSTOMER_VIEW = "customer_view"  # the view's own toggle and paging buttons
DELETE_CONFIRM = "delete_confirm"
DELETE_KEEP = "delete_keep"


# --- selecting rows of the list -------------------------------------------------------------


def bulk_blocks(choices: Sequence[tuple[int, str]], page_value: str) -> list[Block]:
    """Build the row checkboxes and the "… selected" buttons of a list page.

    `choices` are (number, label) of the page's rows; `page_value` is the page's encoded state,
    so a button can redraw the same page after acting.
    """
    if not choices:
        return []
    blocks: list[Block] = []
    for start in range(0, len(choices), MAX_CHECKBOX_OPTIONS):
        chunk = choices[start : start + MAX_CHECKBOX_OPTIONS]
        blocks.append(
            InputBlock(
                block_id=f"{BULK_SELECT_BLOCK}{start // MAX_CHECKBOX_OPTIONS}",
                label="Select requests" if start == 0 else "More requests",
                optional=True,
                element=CheckboxesElement(
                    action_id=BULK_SELECT,
                    options=[option(f"#{number} {name}", str(number)) for number, name in chunk],
                ),
            )
        )
    blocks.append(
        ActionsBlock(
            block_id=BULK_ACTIONS_BLOCK,
            elements=[
                ButtonElement(text="Pause selected", action_id=BULK_PAUSE, value=page_value),
                ButtonElement(text="Resume selected", action_id=BULK_RESUME, value=page_value),
                ButtonElement(
                    text="Cancel selected",
                    action_id=BULK_CANCEL,
                    value=page_value,
                    style="danger",
                    confirm=ConfirmObject(
                        title="Cancel the selected?",
                        text="Nothing more will be sent for the selected requests that are "
                        "still waiting. This can't be undone.",
                        confirm="Cancel them",
                        deny="Keep them",
                        style="danger",
                    ),
                ),
            ],
        )
    )
    return blocks


def selected_numbers(state_values: Mapping[str, Any]) -> list[int]:
    """Read the request numbers ticked in a list page's checkboxes (block_actions state.values).

    :raise InvalidInput: a value that is not a request number (an old or tampered message).
    """
    numbers: list[int] = []
    for block_id, elements in (state_values or {}).items():
        if not str(block_id).startswith(BULK_SELECT_BLOCK) or not isinstance(elements, Mapping):
            continue
        element = elements.get(BULK_SELECT) or {}
        for selected in element.get("selected_options") or []:
            try:
                numbers.append(parse_number(str((selected or {}).get("value", ""))))
            except InvalidInput as exc:
                raise InvalidInput("That list is out of date: run /reviews list again.") from exc
    return list(dict.fromkeys(numbers))


# --- the customer view's state ----------------------------------------------------------------


@dataclass(frozen=True)
class CustomerState:
    """Which customer view a button shows: whose, grouped or flat, and which page."""

    contact_id: int
    flat: bool = False
    page: int = 0

    def encode(self) -> str:
        data: dict[str, Any] = {"c": self.contact_id}
        if self.flat:
            data["f"] = 1
        if self.page:
            data["p"] = self.page
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, value: str) -> CustomerState:
        """Read a state made by `encode`.

        :raise InvalidInput: it was not made by `encode` (an old or tampered button).
        """
        try:
            data = json.loads(value or "")
            state = cls(int(data["c"]), bool(data.get("f")), int(data.get("p", 0)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput("That customer view is out of date: show it again.") from exc
        if state.page < 0:
            raise InvalidInput("That customer view is out of date: show it again.")
        return state


def customer_button(contact_id: int, text: str = "Customer") -> ButtonElement:
    """Return the button that opens a customer's view (all their requests and messages)."""
    return ButtonElement(
        text=clip(text, MAX_BUTTON_TEXT),
        action_id=CUSTOMER_OPEN,
        value=CustomerState(contact_id).encode(),
    )
