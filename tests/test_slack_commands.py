"""/reviews through the real HTTP endpoint, signed like Slack, against the fake Slack Web API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.errors import NotFound
from bot.domain.status import Status
from tests.slack_harness import (  # noqa: F401
    ADMIN,
    SlackHarness,
    find_element,
    slack_fixture,
    text_of,
)


def ask(slack: SlackHarness, text: str, **kwargs: str) -> str:
    """Run /reviews <text>; return the text of the ephemeral answer."""
    response = slack.post_command(text, **kwargs)
    assert response.status_code == 200
    answer = slack.answer()
    assert answer["response_type"] == "ephemeral"
    return text_of(answer)


def test_help_lists_every_subcommand_with_examples(slack: SlackHarness) -> None:
    text = ask(slack, "help")
    for example in (
        "/reviews send Jane Doe +33 6 10 20 30 40",
        "/reviews send Jane Doe jane@example.com",
        "/reviews list status:queued,paused",
        "/reviews show #42",
        "/reviews pause #42 43",
        "/reviews cancel all queued",
    ):
        assert example in text


def test_an_unknown_subcommand_shows_help(slack: SlackHarness) -> None:
    text = ask(slack, "frobnicate #4")
    assert "I don't know `frobnicate`" in text
    assert "/reviews show #42" in text


def test_no_subcommand_shows_help(slack: SlackHarness) -> None:
    assert "/reviews pause #42 43" in ask(slack, "")


# --- quick send -----------------------------------------------------------------------------


def test_quick_send_with_a_phone_number_creates_the_request(slack: SlackHarness) -> None:
    text = ask(slack, "send Jane Doe +33 6 10 20 30 40 ref:A-1042 type:product")
    assert "#1" in text and "Jane Doe" in text and "+33610203040" in text
    detail = slack.ops.show(slack.ws, 1)
    request = detail.request
    assert (request.customer_name, request.phone, request.channel) == (
        "Jane Doe",
        "+33610203040",
        "sms",
    )
    assert (request.reference, request.review_type) == ("A-1042", "product")
    assert request.created_by == "U0ALICE"
    assert request.origin_channel == "C0SALES"


def test_quick_send_by_email_later(slack: SlackHarness) -> None:
    text = ask(slack, "send Jane Doe jane@example.com via:email in:2h lang:sv")
    assert "#1" in text
    request = slack.ops.show(slack.ws, 1).request
    assert request.email == "jane@example.com" and request.channel == "email"
    assert request.language == "sv"
    assert request.scheduled_at == slack.clock.now() + timedelta(hours=2)


def test_quick_send_at_a_time_in_the_workspace_timezone(slack: SlackHarness) -> None:
    ask(slack, "send Jane +33 6 10 20 30 40 at:2026-12-01T10:00")
    request = slack.ops.show(slack.ws, 1).request
    assert request.scheduled_at is not None
    assert request.scheduled_at.isoformat() == "2026-12-01T09:00:00+00:00"  # 10:00 in Paris


def test_quick_send_says_why_it_goes_later_than_asked(slack: SlackHarness) -> None:
    # The words `reviewops send` says too (bot/domain/send_time.py::why_later).
    slack.set_policy(send_window="mon-fri 09:00-19:00", holidays="FR")
    text = ask(slack, "send Jane +33 6 10 20 30 40 at:2030-12-25T10:00")
    assert "(Christmas Day is a public holiday (FR))" in text
    text = ask(slack, "send Bea +33 6 10 20 30 41 at:2030-12-07T10:00")  # a Saturday
    assert "(outside the send window mon-fri 09:00-19:00)" in text
    text = ask(slack, "send Cid +33 6 10 20 30 42 at:2030-12-09T10:00")  # inside: no reason
    assert "goes out" in text and "send window" not in text and "holiday" not in text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("send Jane Doe", "Give a phone number or an email address"),
        ("send Jane +33 1 23 45 67 89", "landline"),
        ("send Jane 12", "not a valid phone number"),
        ("send Jane jane@example", "not a valid email address"),
        ("send Jane jane@example.com via:fax", "'fax' is not a way to send"),
        ("send Jane jane@example.com type:hotel", "'hotel' is not a review type"),
        ("send Jane jane@example.com in:soon", "'soon' is not a delay"),
        ("send Jane jane@example.com at:2020-01-01T10:00", "already passed"),
        ("send Jane jane@example.com in:2h at:2026-12-01T10:00", "not both"),
        ("send Jane jane@example.com color:red", "I don't know the option 'color:'"),
        ("send Jane jane@example.com lang:de", "'de' is not a language"),
        ("send Jane jane@example.com via:sms", "SMS needs a phone number"),
    ],
)
def test_quick_send_errors_are_precise_and_store_nothing(
    slack: SlackHarness, text: str, error: str
) -> None:
    answer = ask(slack, text)
    assert error in answer
    with pytest.raises(NotFound):
        slack.ops.show(slack.ws, 1)


def test_quick_send_within_the_cooldown_says_how_to_override(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    text = ask(slack, "send Jane Doe +33 6 10 20 30 40")
    assert "already asked" in text and "force:yes" in text
    with pytest.raises(NotFound):
        slack.ops.show(slack.ws, 2)
    assert "#2" in ask(slack, "send Jane Doe +33 6 10 20 30 40 force:yes")


# --- send modal ------------------------------------------------------------------------------


def test_send_without_arguments_opens_the_modal(slack: SlackHarness) -> None:
    slack.post_command("send")
    view = slack.opened_view()
    assert view["action"] == "open" and view["callback_id"] == "send_request"
    assert view["title"]["text"] == "Ask for a review"
    block_ids = [b["block_id"] for b in view["blocks"]]
    assert block_ids == [
        "name",
        "phone",
        "email",
        "method",
        "review_type",
        "reference",
        "when",
        "at",
        "at_text",
        "language",
        "override",
    ]
    method = find_element(view, "value") and view["blocks"][3]["element"]
    assert [o["text"]["text"] for o in method["options"]] == [
        "SMS",
        "WhatsApp",
        "Email",
        "SMS, else email",
        "SMS and email",
    ]
    assert slack.fake.calls_to("views.open")[0]["trigger_id"] == slack.last_trigger_id


# --- list ------------------------------------------------------------------------------------


def test_list_shows_rows_masked_with_status_and_counts(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    slack.create("Bob Martin", email="bob@example.com", review_type="product")
    answer = slack.post_command("list") and slack.answer()
    text = text_of(answer)
    assert "*#2* Bob Martin" in text and "*#1* Jane Doe" in text
    assert text.index("#2") < text.index("#1")  # newest first
    assert "+33 •••• ••40" in text and "b•••@example.com" in text
    assert "+33610203040" not in text and "bob@example.com" not in text
    assert ":hourglass_flowing_sand: queued" in text
    assert "<@U0ALICE>" in text and "0 retries" in text
    counts = [
        find_element(answer, f"list_count_{k}")["text"]["text"]
        for k in ("sent", "opened", "clicked", "failed")
    ]
    assert counts == ["Sent: 0", "Opened: 0", "Clicked: 0", "Failed: 0"]
    menu = find_element(answer, "list_row")
    assert [o["text"]["text"] for o in menu["options"]] == [
        "Pause",
        "Cancel",
        "Reschedule",
        "Edit",
        "Details",
    ]


def test_list_counts_and_rows_follow_what_was_sent(slack: SlackHarness) -> None:
    slack.set_policy(delay="0")
    slack.create("Jane Doe", phone="+33610203040", when="now")
    slack.create("Bob", email="bob@example.com", when="now")
    slack.create("Later", email="later@example.com", when="delay", delay=timedelta(days=1))
    slack.app.dispatcher.run_until_idle()
    answer = slack.post_command("list") and slack.answer()
    assert find_element(answer, "list_count_sent")["text"]["text"] == "Sent: 2"
    text = text_of(answer)
    assert ":incoming_envelope: sent" in text and "· sent " in text
    # A sent request offers only Details: a button, since an overflow needs two options.
    assert find_element(answer, "list_row_details")["value"] in ("1", "2")


def test_list_filters(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    slack.create("Bob Martin", email="bob@example.com", review_type="product", reference="A-9")
    slack.ops.pause(slack.ws, [1], slack.ops.show(slack.ws, 1) and _alice())

    def rows(query: str) -> str:
        return text_of(slack.post_command(f"list {query}") and slack.answer())

    assert "Jane" in rows("status:paused") and "Bob" not in rows("status:paused")
    assert "Bob" in rows("via:email") and "Jane" not in rows("via:email")
    assert "Bob" in rows("type:product") and "Jane" not in rows("type:product")
    assert "Bob" in rows("ref:A-9") and "Jane" not in rows("ref:A-9")
    assert "Jane" in rows("jane") and "Bob" not in rows("jane")
    assert "Jane" in rows("06 10 20 30 40") and "Bob" not in rows("06 10 20 30 40")
    assert "Jane" in rows("0203") and "Bob" not in rows("0203")
    assert "Jane" in rows("by:<@U0ALICE|alice>") and "No request matches" in rows("by:<@U0BOB>")
    assert "Jane" in rows("by:me")
    assert "Jane" in rows("from:2026-11-23 to:2026-11-23")
    assert "No request matches" in rows("from:2026-11-24")
    assert "'bogus' is not a status" in rows("status:bogus")
    assert "I don't know the filter 'colour:'" in rows("colour:red")
    assert "not a date" in rows("from:yesterday")


def _alice():  # type: ignore[no-untyped-def]
    from bot.usecases.actors import Actor
    from tests.slack_harness import USER

    return Actor(USER, "alice")


def test_list_pages_with_next_and_previous(slack: SlackHarness) -> None:
    for i in range(1, 24):
        slack.create(f"Customer {i}", email=f"c{i}@example.com")
    first = slack.post_command("list via:email") and slack.answer()
    assert first["text"].endswith(": " + ", ".join(f"#{n}" for n in range(23, 13, -1)))
    with pytest.raises(KeyError):
        find_element(first, "list_prev")
    nxt = find_element(first, "list_next")
    assert len(nxt["value"]) <= 2000 and "via:email" in nxt["value"]
    slack.post_action(slack.action_payload("list_next", nxt["value"]))
    second = slack.answer()
    assert second["replace_original"] is True
    assert second["text"].endswith(": " + ", ".join(f"#{n}" for n in range(13, 3, -1)))
    slack.post_action(slack.action_payload("list_next", find_element(second, "list_next")["value"]))
    third = slack.answer()
    assert third["text"].endswith(": #3, #2, #1")
    with pytest.raises(KeyError):
        find_element(third, "list_next")
    slack.post_action(slack.action_payload("list_prev", find_element(third, "list_prev")["value"]))
    back = slack.answer()
    assert back["text"] == second["text"]


def test_count_buttons_filter_the_list(slack: SlackHarness) -> None:
    slack.create("Queued", email="q@example.com", delay=timedelta(days=1))
    slack.create("Sent", email="s@example.com", when="now")
    slack.app.dispatcher.run_until_idle()
    first = slack.post_command("list") and slack.answer()
    button = find_element(first, "list_count_sent")
    slack.post_action(slack.action_payload("list_count_sent", button["value"]))
    filtered = slack.answer()
    text = text_of(filtered)
    assert "*#2* Sent" in text and "*#1* Queued" not in text
    assert "Review requests* · sent (sent, delivered, read, opened, clicked" in text
    assert find_element(filtered, "list_count_sent")["style"] == "primary"
    clear = find_element(filtered, "list_clear")
    slack.post_action(slack.action_payload("list_clear", clear["value"]))
    assert "*#1* Queued" in text_of(slack.answer())


# --- show ------------------------------------------------------------------------------------


def test_show_has_every_detail_field_and_the_message_history(slack: SlackHarness) -> None:
    slack.set_policy(
        email_from="reviews@acme.example",
        email_reply_to="help@acme.example",
        email_from_name="Acme Shop",
        sms_sender="ACME",
        landing_url_service="https://acme.example/review",
        reminders=1,
    )
    slack.create(
        "Jane Doe",
        phone="+33610203040",
        email="jane@example.com",
        reference="A-1",
        when="now",
        method="sms_and_email",
    )
    slack.app.dispatcher.run_until_idle()
    text = ask(slack, "show #1")
    for label in (
        "*Name*\nJane Doe",
        "*Email*\njane@example.com",
        "*Phone*\n+33610203040",
        "*Reference*\nA-1",
        "*Type*\nService review",
        "*Created*",
        "*Status*\n:incoming_envelope: sent",
        "*Sent*\n<!date^",
        "*Reminder status*\nqueued for",
        "*Method*\nSMS and email",
        "*Sender name*\nAcme Shop (email) · ACME (SMS)",
        "*Sender email*\nreviews@acme.example",
        "*Reply-to*\nhelp@acme.example",
        "*Landing page*\nhttps://acme.example/review",
    ):
        assert label in text, label
    assert "Initial · SMS to +33610203040" in text and "Initial · Email to jane@example.com" in text
    assert "Reminder" in text and "created by <@U0ALICE>" in text


def test_show_gives_failure_reasons(slack: SlackHarness) -> None:
    from sqlmodel import select

    from store.models import Message

    slack.create("Jane Doe", phone="+33610203040")
    with slack.app.db.write() as session:
        message = session.exec(select(Message)).one()
        message.status = Status.FAILED.value
        message.error_code = "30003"
        message.error_reason = "Unreachable destination handset"
    text = ask(slack, "show 1")
    assert ":x: failed" in text and "`30003` Unreachable destination handset" in text


def test_show_errors(slack: SlackHarness) -> None:
    assert "There is no request #9" in ask(slack, "show #9")
    assert "one request at a time" in ask(slack, "show #1 #2")
    assert "'abc' is not a request number" in ask(slack, "show abc")


# --- pause, resume, cancel -------------------------------------------------------------------


def test_pause_resume_and_cancel_say_what_changed_and_why_not(slack: SlackHarness) -> None:
    slack.create("Jane", phone="+33610203040")
    slack.create("Bob", email="bob@example.com")
    text = ask(slack, "pause #1 2 #7")
    assert "Paused: #1, #2." in text
    assert "#7 not paused: There is no request #7." in text
    assert slack.ops.show(slack.ws, 1).request.status == "paused"
    text = ask(slack, "pause #1")
    assert "#1 not paused: #1 is already paused." in text
    text = ask(slack, "resume #1")
    assert "Resumed: #1." in text
    assert slack.ops.show(slack.ws, 1).request.status == "queued"
    text = ask(slack, "resume #1")
    assert "#1 isn't paused" in text
    text = ask(slack, "cancel #1-2")
    assert "Canceled: #1, #2." in text
    assert "#1 is already canceled" in ask(slack, "cancel 1")
    assert "Say which requests" in ask(slack, "pause")


# --- cancel all queued -----------------------------------------------------------------------


def test_cancel_all_queued_is_refused_to_non_admins(slack: SlackHarness) -> None:
    slack.create("Jane", phone="+33610203040")
    text = ask(slack, "cancel all queued")
    assert "Only workspace admins can cancel every queued request" in text
    assert slack.ops.count_queued(slack.ws) == 1


def test_cancel_all_queued_asks_with_the_count_then_cancels(slack: SlackHarness) -> None:
    for i in range(3):
        slack.create(f"C{i}", email=f"c{i}@example.com")
    answer = slack.post_command("cancel all queued", user=ADMIN) and slack.answer()
    assert "Cancel all *3* queued or paused requests?" in text_of(answer)
    assert slack.ops.count_queued(slack.ws) == 3  # nothing yet
    keep = find_element(answer, "cancel_all_keep")
    slack.post_action(slack.action_payload("cancel_all_keep", keep["value"], user=ADMIN))
    assert "Nothing was canceled" in text_of(slack.answer())
    assert slack.ops.count_queued(slack.ws) == 3
    confirm = find_element(answer, "cancel_all_confirm")
    assert confirm["text"]["text"] == "Cancel 3 requests"
    slack.post_action(slack.action_payload("cancel_all_confirm", confirm["value"], user=ADMIN))
    done = slack.answer()
    assert done["replace_original"] is True
    assert "Canceled 3 queued requests" in text_of(done)
    assert slack.ops.count_queued(slack.ws) == 0


def test_an_admin_in_the_policy_list_may_cancel_all(slack: SlackHarness) -> None:
    slack.set_policy(admins=["U0ALICE"])
    slack.create("Jane", phone="+33610203040")
    assert "Cancel all *1* queued or paused request?" in ask(slack, "cancel all queued")


def test_confirming_cancel_all_checks_the_clicker_again(slack: SlackHarness) -> None:
    slack.create("Jane", phone="+33610203040")
    slack.post_action(slack.action_payload("cancel_all_confirm", "1"))
    assert "Only workspace admins" in text_of(slack.answer())
    assert slack.ops.count_queued(slack.ws) == 1


def test_cancel_all_with_nothing_queued(slack: SlackHarness) -> None:
    assert "nothing to cancel" in ask(slack, "cancel all queued", user=ADMIN)


# --- settings --------------------------------------------------------------------------------


def test_settings_are_shown_to_all_and_changed_by_admins_only(slack: SlackHarness) -> None:
    text = ask(slack, "settings show")
    assert "`timezone` Europe/Paris" in text and "Only workspace admins" in text
    assert "Only workspace admins can change the workspace settings" in ask(slack, "settings")
    assert "Only workspace admins can change" in ask(slack, "settings set delay=1d")
    assert slack.ops.policy(slack.ws).delay == "0"
    assert "Settings saved: delay" in ask(slack, "settings set delay=1d", user=ADMIN)
    assert slack.ops.policy(slack.ws).delay == "1d"
    assert "Unknown setting 'colour'" in ask(slack, "settings set colour=red", user=ADMIN)


def test_settings_help_says_what_each_setting_means_and_its_default(slack: SlackHarness) -> None:
    from bot.domain.setting_help import setting_help

    text = ask(slack, "settings help")
    for key, _, default in setting_help():
        assert f"`{key}` " in text and f"_Default: {default}._" in text
    assert "`send_window` Days and hours messages may go out" in text
    assert "`/reviews settings help`" in ask(slack, "settings show")


# --- stats and export ------------------------------------------------------------------------
# In depth in tests/test_stats.py and tests/test_slack_export.py; here, that both answer.


def test_stats_count_the_last_7_days_by_default(slack: SlackHarness) -> None:
    slack.create("Jane", phone="+33610203040", when="now")
    slack.create("Bob", email="bob@example.com", delay=timedelta(days=1))
    slack.app.dispatcher.run_until_idle()
    text = ask(slack, "stats")
    assert "*Last 7 days*: sent 1 · delivered 0" in text
    assert "*SMS*: sent 1" in text and "*Email*: sent 0" in text
    assert "*Waiting to go out*: 1" in text
    assert "*Last 30 days*: sent 1" in ask(slack, "stats 30d")


def test_export_sends_an_admin_a_csv_in_a_direct_message(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040", reference="A-1")
    slack.create("Bob", email="bob@example.com")
    assert "Only workspace admins can export" in ask(slack, "export")
    assert slack.fake.files == {}
    assert "Exporting via SMS as CSV" in ask(slack, "export via:sms sep:;", user=ADMIN)
    assert slack.fake.wait_for(lambda: slack.fake.files, timeout=20)
    (upload,) = slack.fake.files.values()
    assert upload["channel_id"] == f"D{ADMIN}"
    lines = upload["content"].decode().splitlines()
    assert lines[0].startswith("Number;Customer name;Email;Phone;Sent via;Sent by;Status")
    assert lines[1].startswith("1;Jane Doe;;'+33610203040;SMS;alice;queued;")
    assert len(lines) == 2
