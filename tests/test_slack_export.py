"""`/reviews export` and the App Home's export button, signed like Slack, against the fake Slack."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from bot.export import BOM, HEADERS
from tests.export_rows import add_requests
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    TEAM_ID,
    USER,
    SlackHarness,
    slack_fixture,
    text_of,
)

DM_ADMIN = f"D{ADMIN}"
DM_USER = f"D{USER}"


def ask(slack: SlackHarness, text: str, user: str = USER) -> str:
    response = slack.post_command(text, user=user)
    assert response.status_code == 200
    answer = slack.answer()
    assert answer["response_type"] == "ephemeral"
    return text_of(answer)


def wait_for_upload(slack: SlackHarness) -> dict[str, Any]:
    assert slack.fake.wait_for(lambda: slack.fake.files, timeout=20), "no file was uploaded"
    (upload,) = slack.fake.files.values()
    return upload


def wait_for_final_answer(slack: SlackHarness, words: str) -> str:
    """Wait until an answer with `words` reaches the last response_url; return its text."""
    url = slack.last_response_url

    def found() -> list[dict[str, Any]]:
        return [r for r in slack.fake.responses if r["url"] == url and words in text_of(r)]

    assert slack.fake.wait_for(found, timeout=20), f"no answer with {words!r}"
    return text_of(found()[-1])


def rows_of(content: bytes, separator: str = ",") -> list[list[str]]:
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))


def test_an_admin_gets_every_matching_row_with_progress_in_the_dm(slack: SlackHarness) -> None:
    now = slack.clock.now()
    add_requests(slack.app.db, slack.ws, [{"status": "failed"} for _ in range(2500)], at=now)
    add_requests(slack.app.db, slack.ws, [{"status": "sent"} for _ in range(7)], at=now)
    started = ask(slack, "export ; bom status:failed", user=ADMIN)
    assert "Exporting status failed as CSV" in started
    assert "direct message" in started
    done = wait_for_final_answer(slack, "Sent you")
    assert "Sent you 2,500 requests as a CSV file in a direct message." in done

    upload = wait_for_upload(slack)
    assert upload["channel_id"] == DM_ADMIN
    assert upload["filename"] == "review-requests-20261123-1100.csv"  # Paris time
    assert upload["initial_comment"] == "2,500 review requests (status failed)."
    content: bytes = upload["content"]
    assert content.startswith(BOM + b"Number;Customer name;")
    rows = rows_of(content, ";")
    assert tuple(rows[0]) == HEADERS
    assert len(rows) == 2501 and {r[6] for r in rows[1:]} == {"failed"}
    assert sorted(int(r[0]) for r in rows[1:]) == list(range(1, 2501))

    # One progress message in the DM: posted at 0, updated while writing, then done.
    (progress,) = slack.fake.messages(DM_ADMIN)
    steps = [text_of(h) for h in progress["history"]] + [text_of(progress)]
    assert "0 of 2,500 requests written" in steps[0]
    assert any("1,000 of 2,500" in s for s in steps)
    assert any("2,000 of 2,500" in s for s in steps)
    assert "Exported 2,500 requests" in steps[-1] and "Europe/Paris" in steps[-1]


def test_the_sep_form_and_a_bare_comma_still_work(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040", reference="A-1")
    slack.create("Bob", email="bob@example.com")
    ask(slack, "export via:sms sep:;", user=ADMIN)
    wait_for_final_answer(slack, "Sent you 1 requests")
    content = wait_for_upload(slack)["content"]
    assert not content.startswith(BOM)
    rows = rows_of(content, ";")
    assert rows[1][:5] == ["1", "Jane Doe", "", "'+33610203040", "SMS"]
    assert rows[1][10] == "A-1" and len(rows) == 2

    slack.fake.files.clear()
    ask(slack, "export , bob", user=ADMIN)
    wait_for_final_answer(slack, "Sent you 1 requests")
    rows = rows_of(wait_for_upload(slack)["content"])
    assert [r[1] for r in rows[1:]] == ["Bob"] and rows[1][2] == "bob@example.com"


def test_a_non_admin_is_refused_and_nothing_is_uploaded(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    text = ask(slack, "export")
    assert "Only workspace admins can export the requests" in text
    assert slack.fake.files == {}
    assert slack.fake.calls_to("files.getUploadURLExternal") == []
    assert slack.fake.messages(DM_USER) == []


def test_a_bad_filter_is_answered_and_nothing_is_uploaded(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    assert "'lost' is not a status" in ask(slack, "export ; status:lost", user=ADMIN)
    assert "is not a separator" in ask(slack, "export sep:|", user=ADMIN)
    assert slack.fake.calls_to("files.getUploadURLExternal") == []
    assert slack.fake.messages(DM_ADMIN) == []


def test_an_upload_refused_by_slack_says_so_in_the_dm(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    slack.fake.fail_next("upload", status=500)
    slack.post_command("export", user=ADMIN)
    assert slack.fake.wait_for(
        lambda: (
            "stopped" in text_of(slack.fake.messages(DM_ADMIN)[0])
            if slack.fake.messages(DM_ADMIN)
            else False
        ),
        timeout=20,
    )
    assert slack.fake.files == {}


# --- the App Home's button --------------------------------------------------------------------


def home_click(slack: SlackHarness, user: str) -> dict[str, Any]:
    """A block_actions payload from the Home tab: the container is a view, no response_url."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "test-team"},
        "user": {"id": user, "username": "x", "team_id": TEAM_ID},
        "api_app_id": slack.fake.app_id,
        "token": "verification-token-unused",
        "container": {"type": "view", "view_id": "V0HOME"},
        "trigger_id": slack.fake.issue_trigger_id(),
        "view": {
            "id": "V0HOME",
            "type": "home",
            "team_id": TEAM_ID,
            "callback_id": "",
            "blocks": [],
            "private_metadata": "",
            "state": {"values": {}},
            "hash": "1",
        },
        "actions": [
            {
                "action_id": "home_export",
                "block_id": "home",
                "type": "button",
                "value": "all",
                "text": {"type": "plain_text", "text": "Export CSV"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def test_the_home_button_exports_everything_to_an_admins_dm(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    slack.create("Bob", email="bob@example.com")
    response = slack.post_action(home_click(slack, ADMIN))
    assert response.status_code == 200
    upload = wait_for_upload(slack)
    assert upload["channel_id"] == DM_ADMIN
    rows = rows_of(upload["content"])
    assert [r[1] for r in rows[1:]] == ["Bob", "Jane Doe"]
    assert slack.fake.wait_for(
        lambda: "Exported 2 requests" in text_of(slack.fake.messages(DM_ADMIN)[0])
    )
    assert slack.fake.responses == []


def test_the_home_button_refuses_a_non_admin_in_their_dm(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    slack.post_action(home_click(slack, USER))
    assert slack.fake.wait_for(lambda: slack.fake.messages(DM_USER))
    (refusal,) = slack.fake.messages(DM_USER)
    assert "Only workspace admins can export the requests" in text_of(refusal)
    assert slack.fake.files == {}
    assert slack.fake.calls_to("files.getUploadURLExternal") == []


def test_the_home_button_is_declared(slack: SlackHarness) -> None:
    registered = slack.app.slack.registered
    assert "home_export" in registered.actions


def test_the_button_in_a_message_refuses_a_non_admin_in_place(slack: SlackHarness) -> None:
    slack.create("Jane Doe")
    slack.post_action(slack.action_payload("home_export", "all", user=USER))
    assert "Only workspace admins can export" in text_of(slack.answer())
    assert slack.fake.files == {} and slack.fake.messages(DM_USER) == []


def test_export_arguments_read_separator_bom_and_filters() -> None:
    from handlers.export import ExportRequest, parse_export_args

    assert parse_export_args("") == ExportRequest(",", False, "")
    assert parse_export_args("; bom status:failed jane") == ExportRequest(
        ";", True, "status:failed jane"
    )
    assert parse_export_args("bom ;") == ExportRequest(";", True, "")
    assert parse_export_args("via:sms sep:;") == ExportRequest(";", False, "via:sms")
    assert parse_export_args("jane bom") == ExportRequest(",", False, "jane bom")
