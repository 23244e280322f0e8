# ruff: noqa: F811  (pytest fixtures imported by name and used as arguments)
"""Secret settings sealed at rest (TOKEN_ENCRYPTION_KEYS): set through Slack and the CLI, the
workspace's row holds no secret in clear (read with SQL); the Shopify and Stripe checks and the
events signer open them; one stored in clear before keys still works and is sealed at the next
save or by `reviewops tokens rotate`; settings show, the audit, the logs, the errors and a
customer's export never show one, sealed or clear."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlmodel import select

from bot.app import ReviewOpsApp, create_app
from bot.clock import FrozenClock
from bot.customer_export import write_customer_json
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_read import stored_policy
from bot.usecases.audit import MASK
from bot.usecases.inputs import RequestCreate
from bot.usecases.setting_secrets import SettingSecrets
from store.audit import AuditFilter
from store.db import Database
from store.installations import TokenKeyError
from store.integration_models import EventOutbox
from store.models import Contact, Workspace
from tests.fakes.event_receiver import EventReceiver
from tests.fakes.slack_api import FakeSlack
from tests.helpers import ALICE, cli_invoker
from tests.slack_harness import ADMIN, TEAM_ID, SlackHarness, text_of
from tests.test_order_triggers import (
    EMAIL,
    SHOPIFY_SECRET,
    STRIPE_SECRET,
    checkout,
    post_shopify,
    post_stripe,
    requests_made,
    shopify_order,
)
from tests.test_settings_modal import open_form, submit
from tests.test_trust_tenant_install import rotate
from tests.test_webhooks_twilio import Web, running

KEY = Fernet.generate_key().decode()
EVENTS_SECRET = "whsec_" + base64.b64encode(bytes(range(40, 72))).decode()
# A secret as long as a shop's may be (200): sealed, it is longer than that.
LONG_SHOPIFY = "shpss_" + "a1" * 97
CLEAR = (SHOPIFY_SECRET, STRIPE_SECRET, EVENTS_SECRET, LONG_SHOPIFY)


def raw_settings(db: Database, team_id: str = TEAM_ID) -> str:
    """The workspace's settings JSON as the database holds it."""
    query = text("SELECT CAST(policy AS TEXT) FROM workspace WHERE team_id = :team")
    with db.engine.connect() as connection:
        return str(connection.execute(query, {"team": team_id}).scalar_one())


def everything_stored(db: Database) -> str:
    """Every row a secret could leak into: settings, events, the audit, the outboxes."""
    found = [raw_settings(db, team) for team in teams(db)]
    with db.engine.connect() as connection:
        for query in (
            "SELECT CAST(detail AS TEXT) FROM event",
            "SELECT CAST(detail AS TEXT) FROM audit",
            "SELECT CAST(payload AS TEXT) FROM slack_outbox",
            "SELECT CAST(payload AS TEXT) || COALESCE(last_error, '') FROM event_outbox",
        ):
            found += [str(v) for v in connection.execute(text(query)).scalars()]
    return "\n".join(found)


def audit_rows(app: ReviewOpsApp, team_id: str = TEAM_ID) -> list[Any]:
    """The workspace's settings entries of the audit, newest first."""
    workspace = app.ops.workspaces.find_workspace(team_id)
    assert workspace is not None and workspace.id is not None
    return list(app.ops.audit.page(workspace.id, AuditFilter(action="settings"), limit=100).rows)


def teams(db: Database) -> list[str]:
    with db.read() as session:
        return [w.team_id for w in session.exec(select(Workspace)).all()]


def stored_secrets(db: Database, team_id: str = TEAM_ID) -> dict[str, str]:
    with db.read() as session:
        row = session.exec(select(Workspace).where(Workspace.team_id == team_id)).one()
    return {k: row.policy.get(k, "") for k in ("shopify_secret", "stripe_secret", "events_secret")}


def opened(keys: list[str], db: Database, team_id: str = TEAM_ID) -> dict[str, str]:
    secrets = SettingSecrets.with_keys(keys)
    return {k: secrets.open(v, k) for k, v in stored_secrets(db, team_id).items()}


def store_in_clear(app: ReviewOpsApp, team_id: str, **secrets: str) -> None:
    """Write secrets into a workspace's settings as a version without keys stored them."""
    with app.db.write() as session:
        row = session.exec(select(Workspace).where(Workspace.team_id == team_id)).one()
        row.policy = {**row.policy, **secrets}
        session.add(row)


@pytest.fixture
def sealed_slack(database_url: str, clock: FrozenClock) -> Iterator[SlackHarness]:
    """The Slack harness with TOKEN_ENCRYPTION_KEYS set."""
    with FakeSlack() as fake:
        harness = SlackHarness(fake, database_url, clock, token_keys=KEY)
        try:
            yield harness
        finally:
            harness.close()


@pytest.fixture
def sealed_web(database_url: str, clock: FrozenClock) -> Iterator[Web]:
    with running(
        database_url,
        clock,
        token_keys=KEY,
        cooldown_days=0,
        shopify_secret=SHOPIFY_SECRET,
        stripe_secret=STRIPE_SECRET,
    ) as served:
        yield served


# --- set through Slack and the CLI ------------------------------------------------------------


def test_secrets_set_with_reviews_settings_set_are_sealed_in_the_row_and_still_masked(
    sealed_slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack = sealed_slack
    url = "https://crm.example.com/hooks/reviews"
    typed = f"shopify_secret={LONG_SHOPIFY} stripe_secret={STRIPE_SECRET}"
    slack.post_command(
        f"settings set {typed} events_url={url} events_secret={EVENTS_SECRET}", user=ADMIN
    )
    assert "Settings saved" in text_of(slack.answer())

    row = raw_settings(slack.app.db)
    assert row.count('"sealed:gAAAAA') == 3
    for secret in CLEAR:
        assert secret not in row
    assert opened([KEY], slack.app.db) == {
        "shopify_secret": LONG_SHOPIFY,
        "stripe_secret": STRIPE_SECRET,
        "events_secret": EVENTS_SECRET,
    }
    # Read back (validated once, cached) the sealed values are opaque: over 200 characters.
    policy = slack.ops.policy(slack.ws)
    assert len(policy.shopify_secret) > 200 and policy.shopify_secret.startswith("sealed:")

    slack.post_command("settings show", user=ADMIN)
    shown = text_of(slack.answer())
    assert "`shopify_secret` set (hidden)" in shown and "`events_secret` set (hidden)" in shown
    entries = {e.target: e.detail for e in audit_rows(slack.app)}
    assert entries["stripe_secret"] == {"old": "", "new": MASK}
    # Saving again, secrets untouched: nothing about them changes, the sealed text is kept.
    slack.post_command("settings set business_name=Renamed", user=ADMIN)
    assert "Settings saved" in text_of(slack.answer())
    assert raw_settings(slack.app.db).count('"sealed:gAAAAA') == 3
    assert stored_secrets(slack.app.db) == {
        k: getattr(policy, k) for k in stored_secrets(slack.app.db)
    }
    assert_nowhere(slack.app.db, caplog, stored_secrets(slack.app.db).values())


def assert_nowhere(db: Database, caplog: pytest.LogCaptureFixture, sealed: Any) -> None:
    """No secret, in clear or sealed, in the rows that keep what happened, nor in the logs."""
    kept = everything_stored(db).replace(raw_settings(db), "")
    for value in (*CLEAR, *sealed):
        assert value not in kept
        assert value not in caplog.text


def test_the_settings_form_seals_a_typed_secret_and_refuses_one_shaped_like_a_sealed_value(
    sealed_slack: SlackHarness,
) -> None:
    slack = sealed_slack
    saved = submit(
        slack, open_form(slack), stripe_secret={"type": "plain_text_input", "value": STRIPE_SECRET}
    )
    assert saved is None
    assert STRIPE_SECRET not in raw_settings(slack.app.db)
    assert opened([KEY], slack.app.db)["stripe_secret"] == STRIPE_SECRET

    sealed = stored_secrets(slack.app.db)["stripe_secret"]
    lookalike = {"type": "plain_text_input", "value": sealed}
    refused = submit(slack, open_form(slack), shopify_secret=lookalike)
    assert refused["response_action"] == "errors"
    assert "Paste the secret itself" in refused["errors"]["shopify_secret"]
    assert stored_secrets(slack.app.db)["shopify_secret"] == ""


def test_the_cli_seals_a_secret_with_keys_and_keeps_it_as_typed_without(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    done = invoke("settings", "set", f"stripe_secret={STRIPE_SECRET}")
    assert done.exit_code == 0, done.output
    db = Database(database_url)
    try:
        [team] = teams(db)
        # Without keys (one workspace): stored as typed, as before keys existed.
        assert f'"stripe_secret": "{STRIPE_SECRET}"' in raw_settings(db, team).replace(
            '":"', '": "'
        )

        monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", KEY)
        done = invoke("settings", "set", f"shopify_secret={SHOPIFY_SECRET}")
        assert done.exit_code == 0, done.output
        row = raw_settings(db, team)
        assert SHOPIFY_SECRET not in row and STRIPE_SECRET not in row  # both sealed on save
        assert opened([KEY], db, team) == {
            "shopify_secret": SHOPIFY_SECRET,
            "stripe_secret": STRIPE_SECRET,
            "events_secret": "",
        }
        shown = invoke("settings", "show").output
        assert "set (hidden)" in shown and "sealed:" not in shown and SHOPIFY_SECRET not in shown

        lookalike = stored_secrets(db, team)["shopify_secret"]
        refused = invoke("settings", "set", f"stripe_secret={lookalike}")
        assert refused.exit_code == 2
        assert "stripe_secret: Paste the secret itself" in refused.output
        assert lookalike not in refused.output
    finally:
        db.dispose()


# --- where they are used ------------------------------------------------------------------------


def test_sealed_shop_secrets_still_verify_signed_shopify_and_stripe_webhooks(
    sealed_web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    web = sealed_web
    row = raw_settings(web.app.db)
    assert SHOPIFY_SECRET not in row and STRIPE_SECRET not in row

    assert post_shopify(web, shopify_order()).status_code == 200
    assert (
        post_stripe(
            web,
            {
                "id": "evt_1",
                "object": "event",
                "type": "checkout.session.completed",
                "data": {"object": checkout()},
            },
        ).status_code
        == 200
    )
    assert len(requests_made(web)) == 2
    assert (
        post_shopify(web, shopify_order(), secret="shpss_wrong", webhook_id="w2").status_code == 401
    )
    assert post_stripe(web, {"id": "evt_2"}, secret="whsec_wrong").status_code == 401

    with web.app.db.read() as session:
        contact = session.exec(select(Contact).where(Contact.email == EMAIL)).one()
    assert contact.id is not None
    export = io.BytesIO()
    write_customer_json(web.app.db, web.ws, contact.id, export, now=web.clock.now())
    sealed = stored_secrets(web.app.db).values()
    for value in (*CLEAR, *[v for v in sealed if v]):
        assert value not in export.getvalue().decode()
    assert_nowhere(web.app.db, caplog, [v for v in sealed if v])


def test_secrets_stored_in_clear_before_keys_still_verify_and_are_sealed_at_the_next_save(
    sealed_web: Web,
) -> None:
    web = sealed_web
    store_in_clear(web.app, "T0001", shopify_secret=SHOPIFY_SECRET, stripe_secret=STRIPE_SECRET)
    assert SHOPIFY_SECRET in raw_settings(web.app.db, "T0001")
    assert post_shopify(web, shopify_order()).status_code == 200

    audited = [e.target for e in audit_rows(web.app)]
    policy = web.ops.policy(web.ws).model_copy(update={"business_name": "Acme Cycles"})
    web.ops.update_policy(web.ws, policy, ALICE)

    row = raw_settings(web.app.db, "T0001")
    assert SHOPIFY_SECRET not in row and STRIPE_SECRET not in row
    assert post_shopify(web, shopify_order(id=2, name="#1002"), webhook_id="w2").status_code == 200
    assert len(requests_made(web)) == 2
    # Sealing is no change of a setting: the audit says only what was typed.
    assert [e.target for e in audit_rows(web.app)] == ["business_name", *audited]


def test_a_sealed_secret_no_key_opens_answers_503_and_logs_the_setting_never_its_value(
    database_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    with running(database_url, clock, token_keys=KEY, shopify_secret=SHOPIFY_SECRET) as first:
        sealed = stored_secrets(first.app.db)["shopify_secret"]
    other = Fernet.generate_key().decode()
    caplog.set_level(logging.INFO)
    with running(database_url, clock, token_keys=other) as web:
        answer = post_shopify(web, shopify_order())
        assert answer.status_code == 503
        assert "No key of TOKEN_ENCRYPTION_KEYS opens the stored shopify_secret" in caplog.text
        assert requests_made(web) == []
    assert SHOPIFY_SECRET not in caplog.text and sealed not in caplog.text


def test_the_events_signer_signs_with_a_sealed_secret(
    database_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with EventReceiver(EVENTS_SECRET, clock.now) as receiver:
        app = events_app(database_url, clock, KEY)
        try:
            with_events(app, receiver.url)
            assert EVENTS_SECRET not in raw_settings(app.db, "T0EV")

            assert app.events.run_once() == 1
        finally:
            app.close()
    assert [a.verified for a in receiver.attempts] == [True]
    assert EVENTS_SECRET not in caplog.text


def test_an_events_secret_no_key_opens_is_tried_again_later_and_never_posted(
    database_url: str, clock: FrozenClock
) -> None:
    with EventReceiver(EVENTS_SECRET, clock.now) as receiver:
        app = events_app(database_url, clock, KEY)
        try:
            with_events(app, receiver.url)
        finally:
            app.close()
        wrong = events_app(database_url, clock, Fernet.generate_key().decode())
        try:
            assert wrong.events.run_once() == 0
            with wrong.db.read() as session:
                [row] = session.exec(select(EventOutbox)).all()
        finally:
            wrong.close()
    assert receiver.attempts == []
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error == "No key of TOKEN_ENCRYPTION_KEYS opens the stored events_secret."


def with_events(app: ReviewOpsApp, url: str) -> None:
    """A workspace sending its events to `url`, signed with EVENTS_SECRET, and one request."""
    ws = app.ops.ensure_workspace("T0EV", "Events").id
    assert ws is not None
    values = {"events_url": url, "events_secret": EVENTS_SECRET}
    policy = WorkspacePolicy.model_validate({**app.ops.policy(ws).model_dump(), **values})
    app.ops.update_policy(ws, policy, ALICE)
    app.ops.create(ws, RequestCreate(name="Jane Doe", email=EMAIL), ALICE)


def events_app(database_url: str, clock: FrozenClock, keys: str) -> ReviewOpsApp:
    from bot.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, DATABASE_URL=database_url, TOKEN_ENCRYPTION_KEYS=keys, SLACK_BOT_TOKEN=""
    )
    return create_app(settings, clock=clock)


# --- rotation -----------------------------------------------------------------------------------


def test_rotation_seals_every_secret_setting_with_the_new_key(
    sealed_web: Web, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = sealed_web
    web.ops.ensure_workspace("T0OLD", "Old")
    store_in_clear(web.app, "T0OLD", stripe_secret=STRIPE_SECRET)  # from before keys were set
    new = Fernet.generate_key().decode()

    done = rotate(database_url, f"{new},{KEY}", tmp_path, monkeypatch)

    assert done.exit_code == 0, done.output
    assert "0 bot token(s) sealed and 3 secret setting(s) sealed" in done.output
    assert opened([new], web.app.db) == {
        "shopify_secret": SHOPIFY_SECRET,
        "stripe_secret": STRIPE_SECRET,
        "events_secret": "",
    }
    assert opened([new], web.app.db, "T0OLD")["stripe_secret"] == STRIPE_SECRET
    assert STRIPE_SECRET not in raw_settings(web.app.db, "T0OLD")
    with pytest.raises(TokenKeyError, match="No key of TOKEN_ENCRYPTION_KEYS opens"):
        opened([KEY], web.app.db)


def test_rotation_without_the_old_key_changes_no_secret(
    sealed_web: Web, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = sealed_web
    web.ops.ensure_workspace("T0OLD", "Old")
    store_in_clear(web.app, "T0OLD", stripe_secret=STRIPE_SECRET)
    before = {team: raw_settings(web.app.db, team) for team in ("T0001", "T0OLD")}

    refused = rotate(database_url, Fernet.generate_key().decode(), tmp_path, monkeypatch)

    assert refused.exit_code == 2
    assert "No key of TOKEN_ENCRYPTION_KEYS opens the shopify_secret of workspace T0001" in (
        refused.output
    )
    assert "Nothing was changed" in refused.output
    assert {team: raw_settings(web.app.db, team) for team in before} == before
    assert SHOPIFY_SECRET not in refused.output


# --- the policy keeps a sealed value opaque ----------------------------------------------------


def test_a_sealed_value_is_opaque_to_validation_and_a_typed_one_is_checked() -> None:
    sealed = SettingSecrets.with_keys([KEY]).sealed(
        {"shopify_secret": LONG_SHOPIFY, "events_secret": EVENTS_SECRET, "events_url": ""}
    )
    policy = stored_policy(sealed)
    assert policy.shopify_secret == sealed["shopify_secret"]
    # Kept from before in a typed edit: not checked as a whsec_ key or against 200 characters.
    edited = WorkspacePolicy.model_validate({**policy.model_dump(), "business_name": "Acme"})
    assert edited.events_secret == sealed["events_secret"]
    with pytest.raises(ValueError, match=r"at most 200 characters \(got 201\)"):
        WorkspacePolicy(shopify_secret="s" * 201)
    # Without keys nothing is sealed; a secret in clear is used as it is.
    clear = SettingSecrets.with_keys([]).sealed({"shopify_secret": SHOPIFY_SECRET})
    assert clear == {"shopify_secret": SHOPIFY_SECRET}
    assert SettingSecrets.with_keys([KEY]).open(SHOPIFY_SECRET, "shopify_secret") == SHOPIFY_SECRET
