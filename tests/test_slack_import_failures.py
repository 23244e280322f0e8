"""`/reviews import` when things fail while the requests are created: the network to Slack
drops a redraw of the progress, or the database fails partway. Real signed submissions to the
app, the fake Slack over real sockets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlmodel import select

from handlers.blocks.import_form import IMPORT_CANCEL, IMPORT_CONFIRM
from store.integration_models import ImportBatch
from tests.fakes.slack_api import DROPPED
from tests.slack_harness import ADMIN, SlackHarness, slack_fixture, text_of  # noqa: F401
from tests.test_import import FRENCH
from tests.test_slack_import import open_form, stored, submit_file, updated_view


def dry_run_of(slack: SlackHarness) -> dict[str, Any]:
    slack.set_policy(send_window="always")
    view = open_form(slack, ADMIN)
    shared = slack.fake.share_file("clients.csv", FRENCH, user=ADMIN)
    submit_file(slack, view, shared, ADMIN)
    return updated_view(slack, view["id"], lambda v: v["callback_id"] == IMPORT_CONFIRM)


def test_a_progress_redraw_lost_on_the_network_does_not_stop_the_import(
    slack: SlackHarness,
) -> None:
    dry = dry_run_of(slack)
    # The progress redraw's connection drops (and its one retry's): a network error.
    slack.fake.fail_next("views.update", status=DROPPED, times=2)
    slack.post_view_submission(dry, {}, user=ADMIN)
    done = updated_view(slack, dry["id"], lambda v: v["title"]["text"] == "Import done")
    assert "Import 1 (clients.csv): 3 review requests created" in text_of(done)
    assert stored(slack) == 3
    assert not [v for v in slack.fake.views if v["title"]["text"] == "Importing"]  # was lost
    with slack.app.db.read() as session:
        batch = session.get(ImportBatch, 1)
        assert batch is not None and (batch.state, batch.created) == ("done", 3)


def test_an_import_that_fails_partway_names_itself_and_its_cancel(slack: SlackHarness) -> None:
    dry = dry_run_of(slack)
    with slack.app.db.write() as session:  # the requests' events can't be written any more
        session.execute(text("ALTER TABLE event RENAME TO event_gone"))
    try:
        slack.post_view_submission(dry, {}, user=ADMIN)
        told = updated_view(slack, dry["id"], lambda v: v["title"]["text"] == "Import stopped")
        slack.fake.wait_for(lambda: slack.fake.calls_to("chat.postMessage"))
    finally:
        with slack.app.db.write() as session:
            session.execute(text("ALTER TABLE event_gone RENAME TO event"))
    assert "Import 1 (clients.csv): 0 review requests created before it stopped" in text_of(told)
    assert "Cancel them with the button below" in text_of(told)
    message = slack.fake.calls_to("chat.postMessage")[-1]
    assert message["channel"] == ADMIN and "Import 1" in message["text"]
    button = message["blocks"][1]["elements"][0]
    assert (button["action_id"], button["value"]) == (IMPORT_CANCEL, "1")
    assert stored(slack) == 0
    with slack.app.db.read() as session:
        batch = session.exec(select(ImportBatch)).one()
        assert (batch.state, batch.created) == ("failed", 0)


def test_a_forged_cancel_button_with_a_huge_id_is_refused(slack: SlackHarness) -> None:
    huge = "99999999999999999999"  # past PostgreSQL's integer
    slack.post_action(slack.action_payload(IMPORT_CANCEL, huge, user=ADMIN, ephemeral=False))
    slack.fake.wait_for(lambda: slack.fake.calls_to("chat.postEphemeral"))
    [told] = slack.fake.calls_to("chat.postEphemeral")
    assert told["user"] == ADMIN and "is not an import" in told["text"]
