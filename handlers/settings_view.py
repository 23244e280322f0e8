"""The workspace settings modal: open it for admins, estimate the SMS live, save it whole.

A submission is read into policy data and validated by the policy itself; every refusal is
shown on its own field (`response_action="errors"`) and nothing is stored unless all is valid.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.errors import InvalidInput
from bot.domain.policy import WorkspacePolicy, policy_errors
from bot.domain.policy_edit import typed_secret_errors
from bot.domain.window import DAY_NAMES
from handlers.blocks.common import metadata, read_metadata, text_reply
from handlers.blocks.settings import (
    CUSTOM_DELAY,
    SETTINGS_MODAL,
    input_block_ids,
    refusal_modal,
    replace_block,
    settings_modal,
)
from handlers.blocks.settings_events import read_events
from handlers.blocks.settings_messages import SMS_TEXT_ACTION, body_too_long, landing_block
from handlers.blocks.settings_triggers import REMOVE_SECRETS, SHOP_LABELS, secret_key, switch_key
from handlers.blocks.sms_estimate import (
    SMS_PREVIEW_BLOCK,
    SmsEstimate,
    estimate_sms,
    sms_preview_block,
)
from handlers.errors import anywhere, refusals
from handlers.modal_input import entered, tell
from handlers.permissions import refusal
from handlers.surface import Registered, Surface, actor_of, first_action, services
from handlers.text import LANGUAGE_LABELS, TYPE_LABELS

log = logging.getLogger(__name__)

WHAT = "change the workspace settings"

# Where a policy field's refusal is shown, when its block is not named like the field.
FIELD_BLOCKS = {
    "send_window": "window_end",
    "landing_url_service": landing_block("service", None),
    "landing_url_product": landing_block("product", None),
    "landing_urls": landing_block("service", None),
}
# Blocks the form checks itself, and the policy field each one feeds.
PRE_CHECKED = {
    "window_days": "send_window",
    "delay_custom": "delay",
    "reminders": "reminders",
    "reminder_interval_days": "reminder_interval_days",
    "cooldown_days": "cooldown_days",
    "retention_days": "retention_days",
    "sms_price": "sms_price",
}
# Fields the form sets as they are typed (the rest is read below).
TEXT_FIELDS = (
    "business_name",
    "timezone",
    "sms_sender",
    "sms_template",
    "email_from_name",
    "email_from",
    "email_reply_to",
    "email_subject",
    "email_body",
    "quiet_hours",
)


def read_form(
    values: Mapping[str, Any], current: WorkspacePolicy
) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn a submitted form into policy data, with the errors only the form can see.

    Returns (data, errors by block_id); the data still has to pass the policy's validation.
    """
    errors: dict[str, str] = {}
    data: dict[str, Any] = current.model_dump()
    for key in TEXT_FIELDS:
        data[key] = entered(values, key) or ""
    data["region"] = (entered(values, "region") or "").upper()
    data["language"] = entered(values, "language") or current.language
    data["method"] = entered(values, "method") or current.method
    data["reminder_channel"] = entered(values, "reminder_channel") or current.reminder_channel
    data["fallback_email"] = (entered(values, "fallback_email") or "on") == "on"
    data["require_consent"] = (entered(values, "require_consent") or "off") == "on"
    data["holidays"] = entered(values, "holidays")
    data["notify_channel"] = entered(values, "notify_channel") or ""
    data["alert_channel"] = entered(values, "alert_channel") or ""
    data["digest"] = entered(values, "digest") or current.digest
    data["digest_time"] = entered(values, "digest_time") or current.digest_time
    data["digest_channel"] = entered(values, "digest_channel") or ""
    data["admins"] = entered(values, "admins") or []
    data.update(read_events(values, current))
    if body_too_long(current) and not data["email_body"]:
        data["email_body"] = current.email_body  # the form could not show it: keep it

    _read_window(values, data, errors)
    _read_delay(values, current, data, errors)
    _read_numbers(values, current, data, errors)
    _read_landing(values, data, errors)
    _read_triggers(values, current, data, errors)
    # A value the form already refused is not judged again by the policy.
    for block, key in PRE_CHECKED.items():
        if block in errors:
            data[key] = getattr(current, key)
    return data, errors


def _read_window(values: Mapping[str, Any], data: dict[str, Any], errors: dict[str, str]) -> None:
    days = entered(values, "window_days") or []
    start = entered(values, "window_start") or "00:00"
    end = entered(values, "window_end") or "00:00"
    if not days:
        errors["window_days"] = "Pick at least one day."
    elif len(days) == 7 and start == end == "00:00":
        data["send_window"] = "always"
    else:
        ordered = [d for d in DAY_NAMES if d in days]
        data["send_window"] = f"{','.join(ordered)} {start}-{'24:00' if end == '00:00' else end}"


def _read_delay(
    values: Mapping[str, Any],
    current: WorkspacePolicy,
    data: dict[str, Any],
    errors: dict[str, str],
) -> None:
    choice = entered(values, "delay") or "0"
    custom = entered(values, "delay_custom")
    if choice == CUSTOM_DELAY:
        if custom is None:
            errors["delay_custom"] = "Write the delay, like 2h, 3d or 2w."
        data["delay"] = custom or current.delay
    else:
        if custom is not None:
            errors["delay_custom"] = 'Choose "Custom" above to use this delay, or clear it.'
        data["delay"] = choice


def _read_numbers(
    values: Mapping[str, Any],
    current: WorkspacePolicy,
    data: dict[str, Any],
    errors: dict[str, str],
) -> None:
    for key in ("reminders", "reminder_interval_days", "cooldown_days", "retention_days"):
        raw = entered(values, key)
        try:
            data[key] = int(raw) if raw is not None else None
        except ValueError:
            errors[key] = "Write a whole number."
        if raw is None and key not in errors:
            errors[key] = "Write a number."
    price = entered(values, "sms_price")
    try:
        data["sms_price"] = Decimal(price) if price is not None else current.sms_price
    except InvalidOperation:
        errors["sms_price"] = "Write a price like 0.045."


def _read_landing(values: Mapping[str, Any], data: dict[str, Any], errors: dict[str, str]) -> None:
    landing: dict[str, str] = {}
    for review_type in TYPE_LABELS:
        data[f"landing_url_{review_type}"] = entered(values, landing_block(review_type, None)) or ""
        for language in LANGUAGE_LABELS:
            block = landing_block(review_type, language)
            url = entered(values, block)
            if url is None:
                continue
            # Check each address on its own field: the policy sees them as one mapping.
            problem = policy_errors({"landing_url_service": url}).get("landing_url_service")
            if problem:
                errors[block] = problem
            else:
                landing[f"{review_type}.{language}"] = url
    data["landing_urls"] = landing


def _read_triggers(
    values: Mapping[str, Any],
    current: WorkspacePolicy,
    data: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Each shop's switch; its secret replaced when one is typed, removed when ticked."""
    data["order_delay"] = entered(values, "order_delay") or ""
    data["order_review_type"] = entered(values, "order_review_type") or current.order_review_type
    removed = entered(values, REMOVE_SECRETS) or []
    for source in SHOP_LABELS:
        switch = entered(values, switch_key(source))
        data[switch_key(source)] = (
            switch == "on" if switch else getattr(current, switch_key(source))
        )
        typed = entered(values, secret_key(source))
        if typed and source in removed:
            errors[secret_key(source)] = "Type a new secret or remove this one, not both."
        elif typed:
            data[secret_key(source)] = typed
        elif source in removed:
            data[secret_key(source)] = ""


def validate_form(
    values: Mapping[str, Any], current: WorkspacePolicy
) -> tuple[WorkspacePolicy | None, dict[str, str]]:
    """Validate a submitted form whole: the new policy, or every error on its own block."""
    data, errors = read_form(values, current)
    choice = entered(values, "delay") or "0"
    refused = policy_errors(data) | typed_secret_errors(current, data)
    for key, message in refused.items():
        block = FIELD_BLOCKS.get(key, key)
        if key == "delay":
            block = "delay_custom" if choice == CUSTOM_DELAY else "delay"
        if block not in input_block_ids():
            block = "business_name"  # a field the form doesn't show: say it at the top
        errors.setdefault(block, message)
    if errors:
        return None, errors
    return WorkspacePolicy.model_validate(data), {}


def sms_estimate(
    surface: Surface, policy: WorkspacePolicy, text: str, *, language: str, price: Decimal
) -> SmsEstimate:
    """Render the SMS this text makes with the real composer and price its segments."""
    problem = None
    rendered = None
    if text.strip():
        problem = policy_errors({"sms_template": text}).get("sms_template")
    if problem is None:
        try:
            rendered = surface.app.dispatcher.composer.preview_sms(policy, text, language)
        except InvalidInput as exc:
            problem = exc.message
    return estimate_sms(rendered, text, price, policy.currency, problem=problem)


def open_settings(
    surface: Surface,
    client: WebClient,
    workspace_id: int,
    *,
    trigger_id: str,
    channel_id: str | None,
    response_url: str | None,
    team_id: str = "",
) -> None:
    """Open the settings modal, filled with the workspace's settings (admins only: check first)."""
    policy = surface.ops.policy(workspace_id)
    estimate = sms_estimate(
        surface, policy, policy.sms_template, language=policy.language, price=policy.sms_price
    )
    view = settings_modal(
        policy,
        estimate=estimate,
        private_metadata=metadata(c=channel_id or None, r=response_url or None),
        public_url=surface.app.settings.public_url,
        team_id=team_id,
    )
    client.views_open(trigger_id=trigger_id, view=view)


def _changed(before: WorkspacePolicy, after: WorkspacePolicy) -> list[str]:
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return [key for key in new if old.get(key) != new[key]]


@refusals(anywhere)
def settings_submitted(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Save the settings an admin submitted; show each wrong field on its input."""
    surface = services(context)
    view = body["view"]
    actor = actor_of(body)
    ws = surface.workspace_id(context)
    # The form may have been opened before the user lost the right: check again.
    if not surface.is_admin(client, context, actor.id):
        ack(response_action="update", view=refusal_modal(refusal(WHAT)))
        return
    current = surface.ops.policy(ws)
    policy, errors = validate_form(view["state"]["values"], current)
    if policy is None:
        ack(response_action="errors", errors=errors)
        return
    changed = _changed(current, policy)
    if changed:
        # Saved before the ack: the form only closes once the settings are stored.
        surface.ops.update_policy(ws, policy, actor)
    ack()
    if changed:
        text = f":white_check_mark: Settings saved: {', '.join(changed)}."
    else:
        text = "Nothing changed in the settings."
    tell(client, read_metadata(view.get("private_metadata")), actor.id, text_reply(text))


@refusals(anywhere)
def sms_text_typed(
    body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
) -> None:
    """Redraw the SMS estimate as the SMS text is typed."""
    surface = services(context)
    view = body.get("view")
    if not view:
        respond(
            response_type="ephemeral",
            **text_reply("Change the SMS text in the form `/reviews settings` opens.").as_kwargs(),
        )
        return
    policy = surface.ops.policy(surface.workspace_id(context))
    values = view.get("state", {}).get("values", {})
    action = first_action(body)
    text = str(action.get("value") or entered(values, "sms_template") or "")
    business = entered(values, "business_name")
    if business:
        policy = policy.model_copy(update={"business_name": business})
    try:
        price = Decimal(entered(values, "sms_price") or policy.sms_price)
    except InvalidOperation:
        price = policy.sms_price
    if not price.is_finite() or price < 0:
        price = policy.sms_price  # the field says what is wrong when saved
    language = entered(values, "language") or policy.language
    estimate = sms_estimate(surface, policy, text, language=language, price=price)
    updated = {
        "type": "modal",
        "callback_id": view.get("callback_id") or SETTINGS_MODAL,
        "title": view.get("title"),
        "submit": view.get("submit"),
        "close": view.get("close"),
        "private_metadata": view.get("private_metadata", ""),
        "blocks": replace_block(
            view.get("blocks") or [], SMS_PREVIEW_BLOCK, sms_preview_block(estimate)
        ),
    }
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:
        if exc.response.get("error") != "hash_conflict":
            raise
        # A newer keystroke already redrew the view; its own update follows.
        log.info("settings view changed meanwhile; estimate not redrawn")


def register(bolt: App, registered: Registered) -> None:
    """Listen to the settings modal's submission and to its SMS text as it is typed."""
    bolt.view(SETTINGS_MODAL)(settings_submitted)
    bolt.action(SMS_TEXT_ACTION)(sms_text_typed)
    registered.views.append(SETTINGS_MODAL)
    registered.actions.append(SMS_TEXT_ACTION)
