"""`/reviews import` at its real entry point: signed commands and view submissions, a file_input
file served by the fake Slack (files.info, url_private with the bot token), the modal updated."""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

from bot.domain.import_file import read_csv
from bot.usecases.history import HistoryFilter, count_matching
from bot.usecases.import_plan import ImportPlan, Skipped
from handlers.blocks.import_form import IMPORT_CANCEL, IMPORT_CONFIRM, dry_run_view
from handlers.blocks.limits import limit_problems
from store.integration_models import ImportBatch
from store.models import ReviewRequest
from tests.slack_harness import ADMIN, USER, SlackHarness, chose, slack_fixture, text_of  # noqa: F401
from tests.test_import import FRENCH


def stored(slack: SlackHarness) -> int:
    with slack.app.db.read() as session:
        return int(session.exec(select(func.count()).select_from(ReviewRequest)).one())


def updated_view(slack: SlackHarness, view_id: str, predicate: Any) -> dict[str, Any]:
    """Wait for a views.update of this modal that the predicate accepts; return it."""

    def found() -> list[dict[str, Any]]:
        return [
            v
            for v in slack.fake.views
            if v["id"] == view_id and v["action"] == "update" and predicate(v)
        ]

    assert slack.fake.wait_for(found, timeout=20), [text_of(v) for v in slack.fake.views]
    return found()[-1]


def open_form(slack: SlackHarness, user: str) -> dict[str, Any]:
    assert slack.post_command("import", user=user).status_code == 200
    view = slack.opened_view()
    assert view["callback_id"] == "import_file"
    file_block = next(b for b in view["blocks"] if b["block_id"] == "file")
    assert file_block["element"]["type"] == "file_input"
    return view


def submit_file(
    slack: SlackHarness, view: dict[str, Any], shared: dict[str, Any], user: str, **extra: Any
) -> dict[str, Any]:
    values = {
        "file": {"type": "file_input", "files": [shared]},
        "method": chose("sms_or_email"),
        "when": chose("now", "radio_buttons"),
        **extra,
    }
    answer = slack.post_view_submission(view, values, user=user)
    assert answer.status_code == 200
    return dict(answer.json()) if answer.content else {}


def test_an_admin_checks_a_file_then_sends_it_then_cancels_the_whole_import(
    slack: SlackHarness,
) -> None:
    slack.set_policy(send_window="always")
    view = open_form(slack, ADMIN)
    shared = slack.fake.share_file("clients.csv", FRENCH, user=ADMIN)
    ack = submit_file(slack, view, shared, ADMIN)
    assert ack["response_action"] == "update"
    assert "Checking the file" in text_of(ack["view"])
    dry = updated_view(slack, view["id"], lambda v: v["callback_id"] == IMPORT_CONFIRM)
    shown = text_of(dry)
    assert "clients.csv: 7 rows" in shown and "*3* will be sent · *4* skipped" in shown
    assert "line 4: '12' is not a valid phone number for FR." in shown
    assert "Duplicate rows in the file: 1" in shown and "Same customer as line 2." in shown
    assert "SMS: " in shown and "EUR" in shown
    assert dry["submit"]["text"] == "Send 3 requests"
    # The bytes came from url_private, with the bot token; nothing is stored yet.
    assert slack.fake.downloads == [{"file": shared["id"], "token": slack.fake.bot_token}]
    assert stored(slack) == 0

    confirm = slack.post_view_submission(dry, {}, user=ADMIN)
    assert confirm.json()["response_action"] == "update"
    done = updated_view(slack, view["id"], lambda v: v["title"]["text"] == "Import done")
    assert "Import 1 (clients.csv): 3 review requests created (#1–#3)" in text_of(done)
    assert stored(slack) == 3
    assert count_matching(slack.app.db, slack.ws, HistoryFilter(import_id=1)) == 3
    progress = [v for v in slack.fake.views if v["title"]["text"] == "Importing"]
    assert any("3 of 3 (100%)" in text_of(v) for v in progress)

    slack.fake.wait_for(lambda: slack.fake.calls_to("chat.postMessage"))
    summary = slack.fake.calls_to("chat.postMessage")[-1]
    assert "3 review requests created" in summary["text"]
    button = summary["blocks"][1]["elements"][0]
    assert (button["action_id"], button["value"]) == (IMPORT_CANCEL, "1")

    slack.post_action(slack.action_payload(IMPORT_CANCEL, "1", user=ADMIN, ephemeral=False))
    answer = slack.answer()
    assert "Import 1 canceled" in answer["text"] and "3 requests canceled" in answer["text"]
    with slack.app.db.read() as session:
        assert set(session.exec(select(ReviewRequest.status)).all()) == {"canceled"}


def test_a_member_sees_the_dry_run_but_cannot_send_it(slack: SlackHarness) -> None:
    view = open_form(slack, USER)
    shared = slack.fake.share_file("clients.csv", FRENCH)
    submit_file(slack, view, shared, USER)
    dry = updated_view(slack, view["id"], lambda v: v["callback_id"] == IMPORT_CONFIRM)
    assert dry.get("submit") is None
    assert "Only an admin can send an import." in text_of(dry)
    # A submission of it anyway (forged, or an admin demoted since) sends nothing.
    answer = slack.post_view_submission(dry, {}, user=USER).json()
    assert answer["response_action"] == "update"
    assert "admin" in text_of(answer["view"])
    assert stored(slack) == 0
    with slack.app.db.read() as session:
        assert session.exec(select(func.count()).select_from(ImportBatch)).one() == 0


def test_a_file_that_cannot_be_read_is_told_in_the_modal_and_nothing_is_stored(
    slack: SlackHarness,
) -> None:
    view = open_form(slack, ADMIN)
    shared = slack.fake.share_file("notes.csv", b"name;city\nJane;Paris\n", user=ADMIN)
    submit_file(slack, view, shared, ADMIN)
    told = updated_view(slack, view["id"], lambda v: "Nothing was stored" in text_of(v))
    assert "needs a phone or an email column" in text_of(told)
    assert stored(slack) == 0


def test_someone_elses_file_is_not_read(slack: SlackHarness) -> None:
    view = open_form(slack, ADMIN)
    shared = slack.fake.share_file("payroll.csv", b"name,phone\nJane,0610203040\n", user=USER)
    submit_file(slack, view, shared, ADMIN)
    told = updated_view(slack, view["id"], lambda v: "Nothing was stored" in text_of(v))
    assert "Attach a file you uploaded yourself." in text_of(told)
    assert slack.fake.downloads == [] and stored(slack) == 0


def test_a_missing_file_or_a_bad_delay_is_refused_on_its_field(slack: SlackHarness) -> None:
    view = open_form(slack, ADMIN)
    values = {
        "file": {"type": "file_input", "files": []},
        "when": chose("delay", "radio_buttons"),
        "delay": {"type": "plain_text_input", "value": "soon"},
    }
    answer = slack.post_view_submission(view, values, user=ADMIN).json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"file", "delay"}
    assert slack.fake.downloads == []


def test_help_lists_import(slack: SlackHarness) -> None:
    slack.post_command("help")
    assert "/reviews import" in text_of(slack.answer())


def test_the_dry_run_escapes_names_and_keeps_to_block_kit_limits() -> None:
    file = read_csv(b"name,phone\n<!channel> Bob,0610203040\n")
    plan = ImportPlan(total=40)
    plan.skipped["invalid"] = [Skipped(n, "<@U1> " + "x" * 500) for n in range(2, 42)]
    view = dry_run_view("<b>.csv", file, plan, admin=True, private_metadata="{}")
    shown = text_of(view.to_dict())
    assert "<!channel>" not in shown and "<@U1>" not in shown
    assert "&lt;@U1&gt;" in shown and "…and 35 more" in shown
    assert view.submit is None  # nothing to send: no button
    assert limit_problems(view, kind="modal") == []
