"""A customer's data as JSON: the Export data button (admins, file in their DM) and
`reviewops customer export VALUE`, with the audit entry each leaves."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.customer_export import FORMAT, write_customer_json
from bot.usecases.feedback import Feedback
from handlers.blocks.customer import CUSTOMER_EXPORT
from store.audit import AuditFilter
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

JANE_PHONE = "+33610203040"
TRICKY = 'Jane "</script>" <!channel>'


def jane_with_history(slack: SlackHarness) -> None:
    """Jane: two requests (one sent, one waiting), a reply, then STOP."""
    slack.set_policy(delay="0", send_window="always", cooldown_days=0)
    slack.create(TRICKY, phone=JANE_PHONE, email="jane@example.com", when="now", consent=True)
    slack.app.dispatcher.run_until_idle()
    slack.create(TRICKY, phone=JANE_PHONE, delay=timedelta(days=3))
    slack.clock.advance(timedelta(hours=1))
    feedback = Feedback(slack.ops)
    feedback.inbound(sid="SMreply1", from_=JANE_PHONE, to="+15005550006", body="Great, thanks!")
    feedback.inbound(sid="SMstop1", from_=JANE_PHONE, to="+15005550006", body="STOP")


def customer_view(slack: SlackHarness, user: str = ADMIN) -> dict[str, Any]:
    assert slack.post_command(f"show customer {JANE_PHONE}", user=user).status_code == 200
    return slack.answer()


def press_export(slack: SlackHarness, view: dict[str, Any], user: str) -> str:
    element = find_element(view, CUSTOMER_EXPORT)
    assert slack.post_action(slack.action_payload(CUSTOMER_EXPORT, element["value"], user=user))
    return text_of(slack.answer())


def check_export(data: dict[str, Any]) -> None:
    assert data["format"] == FORMAT and data["workspace"] == TEAM_ID
    contact = data["contact"]
    assert (contact["name"], contact["phone"], contact["email"]) == (
        TRICKY,
        JANE_PHONE,
        "jane@example.com",
    )
    assert contact["phone_opted_out_at"] is not None and contact["email_opted_out_at"] is None
    assert data["request_count"] == 2 == len(data["requests"])
    first, second = data["requests"]
    assert (first["number"], first["origin"], first["consent_by"]) == (1, "slack", USER)
    assert first["consent_at"] is not None and second["consent_at"] is None
    sms = [m for m in first["messages"] if m["channel"] == "sms"][0]
    assert sms["status"] == "sent" and "STOP" in sms["body"] and sms["to_address"] == JANE_PHONE
    assert "token" not in sms and "claim_token" not in sms
    kinds = [e["kind"] for e in first["events"]]
    assert "created" in kinds and "reply" in kinds
    [reply] = [e for e in first["events"] if e["kind"] == "reply"]
    assert "Great, thanks!" in json.dumps(reply["detail"])
    assert [m["status"] for m in second["messages"]] == ["canceled"]  # STOP canceled it


def test_an_admin_gets_the_customer_json_in_their_dm_and_it_is_audited(
    slack: SlackHarness,
) -> None:
    jane_with_history(slack)
    done = press_export(slack, customer_view(slack), ADMIN)
    assert "Sent you their data as a JSON file in a direct message" in done
    (upload,) = slack.fake.files.values()
    assert upload["channel_id"] == f"D{ADMIN}"
    assert upload["filename"] == "customer-33-xxxx-xx40-jxxx@example.com.json"
    check_export(json.loads(upload["content"]))
    assert JANE_PHONE not in upload["initial_comment"]

    [entry] = slack.ops.audit.page(slack.ws, AuditFilter(action="customer_export")).rows
    assert entry.actor_id == ADMIN and JANE_PHONE not in entry.target
    assert entry.target.endswith("40 / j•••@example.com") and entry.detail == {"requests": 2}


def test_only_admins_see_the_button_and_a_forwarded_one_refuses_others(
    slack: SlackHarness,
) -> None:
    jane_with_history(slack)
    assert CUSTOMER_EXPORT not in str(customer_view(slack, user=USER)["blocks"])
    refused = press_export(slack, customer_view(slack, user=ADMIN), USER)
    assert "admin" in refused.lower()
    assert slack.fake.files == {}
    assert slack.ops.audit.page(slack.ws, AuditFilter(action="customer_export")).rows == []


def test_thousands_of_requests_are_written_a_batch_at_a_time(slack: SlackHarness) -> None:
    from tests.export_rows import add_requests

    slack.create("Jane", phone=JANE_PHONE)
    contact_id = slack.ops.show(slack.ws, 1).request.contact_id
    add_requests(
        slack.app.db,
        slack.ws,
        [{"contact_id": contact_id, "phone": JANE_PHONE} for _ in range(45)],
        at=slack.clock.now(),
    )
    out = _Sink()
    count = write_customer_json(
        slack.app.db, slack.ws, contact_id, out, now=slack.clock.now(), batch=10
    )
    data = json.loads(out.data)
    assert count == 46 == data["request_count"]
    assert sorted(r["number"] for r in data["requests"]) == list(range(1, 47))


class _Sink:
    """A binary stream that keeps what was written (what a file or stdout would get)."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliInvoke:
    invoke = cli_invoker(database_url, monkeypatch, tmp_path)
    assert invoke("settings", "set", "send_window=always", "cooldown_days=0").exit_code == 0
    return invoke


def test_the_cli_writes_the_customer_json_to_stdout_or_a_file(
    run: CliInvoke, tmp_path: Path
) -> None:
    assert run("send", "Jane Doe", "--phone", "0610203040").exit_code == 0
    assert run("send", "Jane Doe", "--phone", "0610203040", "--in", "1d").exit_code == 0
    printed = run("customer", "export", "06 10 20 30 40")
    assert printed.exit_code == 0, printed.output
    data = json.loads(printed.stdout)
    assert data["format"] == FORMAT and data["request_count"] == 2
    assert data["requests"][0]["origin"] == "cli"
    assert "STOP" in data["requests"][0]["messages"][0]["body"]  # sent at once: its text

    out = tmp_path / "jane.json"
    written = run("customer", "export", "0610203040", "--out", str(out))
    assert written.exit_code == 0 and json.loads(out.read_text())["request_count"] == 2
    assert not Path(f"{out}.partial").exists()

    trail = run("audit", "--action", "customer_export").output.splitlines()
    assert len(trail) == 2 and "+33610203040" not in "\n".join(trail)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["customer", "export"], "Say whom"),
        (["customer", "export", "nobody@example.com"], "No customer has the address"),
        (["customer", "export", "Jane", "--out", "/nonexistent/x.json"], "there is no folder"),
    ],
)
def test_a_bad_cli_export_exits_2(run: CliInvoke, args: list[str], words: str) -> None:
    assert run("send", "Jane Doe", "--phone", "0610203040").exit_code == 0
    result = run(*args)
    assert result.exit_code == 2 and words in result.output
