"""The audit trail: settings changes, cancel all, deletes, exports, decisions, uninstall, read
with `/reviews audit` (admins, paged) and `reviewops audit`, signed like Slack / run as the CLI."""

# ruff: noqa: F811  (pytest fixtures imported by name and used as arguments)

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.usecases.audit import setting_changes
from handlers.blocks.audit import AUDIT_NEXT
from handlers.blocks.card import ACTION_MARK_SENT, ACTION_SEND_AGAIN
from handlers.blocks.controls import DELETE_CONFIRM
from handlers.blocks.limits import assert_within_limits
from handlers.blocks.listing import CANCEL_ALL_CONFIRM
from store.audit import AuditFilter
from store.models import Audit
from tests.helpers import CliInvoke, cli_invoker
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    TEAM_ID,
    USER,
    SlackHarness,
    find_element,
    slack_fixture,
    text_of,
)
from tests.test_slack_decisions import asking_reply, click, lost_in_doubt
from tests.test_slack_oauth import Installed, install, served  # noqa: F401


def entries(slack: SlackHarness, action: str | None = None) -> list[Audit]:
    return slack.ops.audit.page(slack.ws, AuditFilter(action=action), limit=1000).rows


def ask(slack: SlackHarness, text: str, user: str = ADMIN) -> dict[str, Any]:
    assert slack.post_command(text, user=user).status_code == 200
    answer = slack.answer()
    assert answer["response_type"] == "ephemeral"
    assert_within_limits(answer, kind="message")
    return answer


def test_a_settings_change_is_recorded_with_field_old_new_and_shown_to_admins(
    slack: SlackHarness,
) -> None:
    ask(slack, "settings set delay=1d cooldown_days=10")
    by_target = {e.target: e for e in entries(slack, "settings") if e.actor_id == ADMIN}
    delay, cooldown = by_target["delay"], by_target["cooldown_days"]
    assert (delay.target, delay.detail) == ("delay", {"old": "0", "new": "1d"})
    assert (cooldown.target, cooldown.detail) == ("cooldown_days", {"old": 30, "new": 10})
    assert (delay.actor_id, delay.origin) == (ADMIN, "slack")

    shown = text_of(ask(slack, "audit action:settings"))
    assert f"<@{ADMIN}>" in shown and "delay" in shown and "0 → 1d" in shown


def test_secret_settings_are_masked_in_the_trail() -> None:
    changes = setting_changes(
        {"shopify_secret": "", "api_token": "old-tok", "delay": "0"},
        {"shopify_secret": "s3cr3t", "api_token": "new-tok", "delay": "1d"},
    )
    assert changes["shopify_secret"] == {"old": "", "new": "••••••"}
    assert changes["api_token"] == {"old": "••••••", "new": "••••••"}
    assert changes["delay"] == {"old": "0", "new": "1d"}
    assert "s3cr3t" not in json.dumps(changes) and "-tok" not in json.dumps(changes)


def test_non_admins_are_refused_the_trail(slack: SlackHarness) -> None:
    shown = text_of(ask(slack, "audit", user=USER))
    assert "admin" in shown.lower() and "Audit trail" not in shown


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("audit action:nuke", "'nuke' is not an audited action"),
        ("audit from:yesterday", "not a date for from"),
        ("audit from:2026-12-02 to:2026-12-01", "must come before"),
        ("audit whatever", "I can't read 'whatever'"),
    ],
)
def test_a_bad_audit_filter_is_named(slack: SlackHarness, text: str, words: str) -> None:
    assert words in text_of(ask(slack, text))


def test_the_trail_pages_with_next_and_filters_by_user(slack: SlackHarness) -> None:
    for days in range(1, 24):
        slack.clock.advance(timedelta(minutes=1))
        ask(slack, f"settings set cooldown_days={days}")
    first = ask(slack, f"audit by:<@{ADMIN}|boss> action:settings")
    assert text_of(first).count("cooldown_days") == 20
    assert "23" in text_of(first) and "→ 3" not in text_of(first)
    value = find_element(first, AUDIT_NEXT)["value"]
    payload = slack.action_payload(AUDIT_NEXT, value, user=ADMIN)
    assert slack.post_action(payload).status_code == 200
    second = slack.answer()
    assert second["replace_original"] is True
    # 23 changes by the admin, plus the harness's own set-up changes, older than them all.
    assert "→ 3" in text_of(second) and "→ 23" not in text_of(second)
    assert "cooldown_days" in text_of(second)

    nobody = text_of(ask(slack, f"audit by:<@{USER}|alice>"))
    assert "No audited action matches" in nobody

    # A non-admin holding a Next button still gets nothing.
    payload = slack.action_payload(AUDIT_NEXT, value, user=USER)
    assert slack.post_action(payload).status_code == 200
    assert "Audit trail" not in text_of(slack.answer())


def test_delete_and_cancel_all_from_slack_are_recorded(slack: SlackHarness) -> None:
    doomed = slack.create("Doomed", delay=timedelta(days=2))
    slack.create("Waiting", phone="+33 6 10 20 30 41", delay=timedelta(days=2))
    payload = slack.action_payload(DELETE_CONFIRM, str(doomed), user=ADMIN)
    assert slack.post_action(payload).status_code == 200
    slack.answer()
    payload = slack.action_payload(CANCEL_ALL_CONFIRM, "1", user=ADMIN)
    assert slack.post_action(payload).status_code == 200
    slack.answer()
    [deleted] = entries(slack, "delete")
    assert (deleted.target, deleted.actor_id, deleted.origin) == (f"#{doomed}", ADMIN, "slack")
    [canceled] = entries(slack, "cancel_all")
    assert canceled.detail == {"canceled": 1, "refused": 0}


def test_mark_as_sent_is_recorded(slack: SlackHarness) -> None:
    marked = lost_in_doubt(slack)
    click(slack, ACTION_MARK_SENT, marked, asking_reply(slack))
    slack.answer()
    [entry] = entries(slack, "mark_sent")
    assert (entry.target, entry.actor_id) == (f"#{marked}", ADMIN)


def test_send_again_is_recorded(slack: SlackHarness) -> None:
    number = lost_in_doubt(slack)
    click(slack, ACTION_SEND_AGAIN, number, asking_reply(slack))
    slack.answer()
    [entry] = entries(slack, "send_again")
    assert (entry.target, entry.actor_id) == (f"#{number}", ADMIN)


def test_an_uninstall_is_recorded_as_the_system(slack: SlackHarness) -> None:
    from tests.test_trust_tenant_install import UNINSTALLED, event_body

    waiting = slack.create("Jane Doe", delay=timedelta(days=2))
    assert slack.post(event_body(UNINSTALLED), content_type="application/json").status_code == 200
    [entry] = entries(slack, "uninstall")
    assert (entry.actor_id, entry.origin) == ("slack", "system")
    assert entry.detail["paused"] == [waiting]


def test_the_slack_csv_export_is_recorded(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    ask(slack, "export")
    assert slack.fake.wait_for(lambda: entries(slack, "export"), timeout=20)
    [entry] = entries(slack, "export")
    assert entry.actor_id == ADMIN and entry.detail["rows"] == 1


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    assert invoke("settings", "set", "send_window=always").exit_code == 0
    return invoke


def test_the_cli_records_its_actions_and_reads_the_trail(run: CliInvoke, tmp_path: Path) -> None:
    assert run("send", "A", "--phone", "0610203040", "--in", "1d").exit_code == 0
    assert run("cancel", "--all-queued", input="y\n").exit_code == 0
    assert run("export", "--out", str(tmp_path / "x.csv")).exit_code == 0
    everything = run("audit")
    assert everything.exit_code == 0, everything.output
    lines = everything.output.splitlines()
    assert [line.split("  ")[2] for line in lines[:3]] == ["export", "cancel_all", "settings"]
    assert all("(cli:" in line and ", cli)" in line for line in lines[:3])
    assert "send_window" in lines[2] and '"new": "always"' in lines[2]

    only = run("audit", "--action", "cancel_all", "--limit", "5")
    assert only.exit_code == 0 and len(only.output.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["audit", "--action", "nuke"], "'nuke' is not an audited action"),
        (["audit", "--from", "soon"], "--from: 'soon' is not a day"),
        (["audit", "--from", "2026-12-02", "--to", "2026-12-01"], "must come before"),
    ],
)
def test_a_bad_cli_audit_filter_exits_2(run: CliInvoke, args: list[str], words: str) -> None:
    result = run(*args)
    assert result.exit_code == 2 and words in result.output


def test_install_uninstall_and_reinstall_are_recorded(served: Installed) -> None:
    from tests.test_trust_tenant_install import UNINSTALLED, served_event, stored

    assert install(served).status_code == 200
    assert served_event(served, UNINSTALLED) == 200
    assert install(served).status_code == 200
    workspace = stored(served.app)
    assert workspace is not None and workspace.id is not None
    trail = served.app.ops.audit.page(workspace.id, AuditFilter(), limit=10).rows
    assert [e.action for e in reversed(trail)] == ["install", "uninstall", "install"]
    assert {(e.actor_id, e.origin) for e in trail} == {("slack", "system")}


def test_by_a_name_is_a_value_never_a_pattern(run: CliInvoke) -> None:
    assert run("audit", "--by", "%").output == ""
    login = run("audit").output.split("(cli:")[1].split(",")[0]
    assert len(run("audit", "--by", login.upper()).output.splitlines()) == 1
