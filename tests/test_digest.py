"""The digest: its calendar, its settings, the job posting it once with its chart to the fake
Slack (files v2 flow), and `/reviews stats ... chart`."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bench.digest_sample import NOW as SAMPLE_NOW
from bench.digest_sample import TIMEZONE as SAMPLE_TZ
from bench.digest_sample import seed_sample
from bot.app import create_app
from bot.charts import chart_alt_text, render_chart
from bot.delivery.console import ConsoleSender
from bot.domain.digest import (
    CATCH_UP,
    due_period,
    parse_digest_time,
    series_buckets,
    series_start,
)
from bot.domain.errors import InvalidInput
from bot.domain.policy import WorkspacePolicy
from bot.domain.policy_edit import parse_setting_assignments
from bot.usecases.history import DetailedReport, PeriodStats, Tally, detailed_report
from handlers.blocks.digest import digest_text
from handlers.stats import wants_chart
from scheduler.digest import DigestPoster
from store.integration_models import DigestPost
from tests.export_rows import add_requests
from tests.slack_harness import ADMIN, SlackHarness, chose, slack_fixture, text_of  # noqa: F401
from tests.test_settings_modal import open_form, submit

PNG = b"\x89PNG\r\n\x1a\n"
# Monday 23 November 2026: 09:00 in Paris is 08:00 UTC.
MONDAY_0859 = datetime(2026, 11, 23, 7, 59, tzinfo=UTC)
MONDAY_0900 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOSTILE = "<!channel> 30003 unreachable: +33 6 10 20 30 40 or jane@example.com"


# --- the calendar --------------------------------------------------------------------------


def test_a_daily_digest_covers_the_day_before_once_its_time_has_come() -> None:
    paris = "Europe/Paris"
    before = due_period(MONDAY_0859, frequency="daily", at="09:00", timezone=paris)
    after = due_period(MONDAY_0900, frequency="daily", at="09:00", timezone=paris)
    # Before its time nothing is due: yesterday's digest is too old to go out now.
    assert before is None and after is not None
    assert after.key == "daily:2026-11-22"
    late = due_period(
        MONDAY_0900 + CATCH_UP["daily"], frequency="daily", at="09:00", timezone=paris
    )
    assert late is not None and late.key == after.key  # still going out after a short outage
    stale = MONDAY_0900 + CATCH_UP["daily"] + timedelta(minutes=1)
    assert due_period(stale, frequency="daily", at="09:00", timezone=paris) is None
    assert after.start == datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # Sunday 00:00 in Paris
    assert after.end == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert after.previous_start == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert after.label == "Sunday 22 November 2026"
    assert due_period(MONDAY_0900, frequency="off", at="09:00", timezone=paris) is None


def test_a_weekly_digest_is_due_from_monday_and_covers_monday_to_sunday() -> None:
    for now in (MONDAY_0900, MONDAY_0900 + CATCH_UP["weekly"]):  # on time, or a day late
        week = due_period(now, frequency="weekly", at="09:00", timezone="Europe/Paris")
        assert week is not None and week.key == "weekly:2026-11-16"
        assert (week.first_day.isoformat(), week.last_day.isoformat()) == (
            "2026-11-16",
            "2026-11-22",
        )
        assert week.end - week.start == timedelta(days=7)
        assert week.label == "16 Nov to 22 Nov 2026"
    for never in (MONDAY_0859, MONDAY_0900 + timedelta(days=3)):  # not yet, or too late
        assert due_period(never, frequency="weekly", at="09:00", timezone="Europe/Paris") is None


def test_a_day_that_changes_the_clocks_is_a_local_day() -> None:
    # Sunday 29 March 2026 has 23 hours in Paris.
    now = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 in Paris
    day = due_period(now, frequency="daily", at="07:30", timezone="Europe/Paris")
    assert day is not None and day.end - day.start == timedelta(hours=23)


@pytest.mark.parametrize("typed", ["9", "24:00", "09:60", "nine", "09:00:00", "x" * 500])
def test_a_wrong_digest_time_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_digest_time(typed)
    assert "is not a time of day" in raised.value.message and raised.value.field == "digest_time"
    assert len(raised.value.message) < 120  # a pasted page is not quoted back whole


def test_a_long_period_is_drawn_in_runs_of_days() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    days = series_buckets(start, start + timedelta(days=30), timezone="UTC")
    assert len(days) == 30 and days[1].start == start + timedelta(days=1)
    years = series_buckets(start, start + timedelta(days=3650), timezone="UTC")
    assert len(years) <= 62 and years[0].end - years[0].start == timedelta(days=59)
    assert years[-1].end == start + timedelta(days=3650)


# --- the settings ----------------------------------------------------------------------------


def test_digest_settings_as_key_value() -> None:
    policy = parse_setting_assignments(
        WorkspacePolicy(), ["digest=weekly", "digest_channel=#C0DIGEST", "digest_time=7:30"]
    )
    assert (policy.digest, policy.digest_channel, policy.digest_time) == (
        "weekly",
        "C0DIGEST",
        "07:30",
    )
    with pytest.raises(InvalidInput) as nowhere:
        parse_setting_assignments(WorkspacePolicy(), ["digest=daily"])
    assert nowhere.value.field == "digest_channel"
    assert "Choose the channel the digest goes to" in nowhere.value.message
    with pytest.raises(InvalidInput) as hourly:
        parse_setting_assignments(WorkspacePolicy(), ["digest=hourly", "digest_channel=C0D"])
    assert hourly.value.field == "digest" and "'off', 'daily' or 'weekly'" in hourly.value.message


def test_the_settings_form_sets_the_digest(slack: SlackHarness) -> None:
    view = open_form(slack)
    picked = {"type": "conversations_select", "selected_conversation": "C0DIGEST"}
    refused = submit(slack, view, digest=chose("daily"))
    assert refused["response_action"] == "errors"
    assert "Choose the channel" in refused["errors"]["digest_channel"]
    assert slack.app.ops.policy(slack.ws).digest == "off"
    saved = submit(
        slack,
        view,
        digest=chose("weekly"),
        digest_channel=picked,
        digest_time={"type": "timepicker", "selected_time": "08:15"},
    )
    assert saved is None or saved.get("response_action") != "errors"
    policy = slack.app.ops.policy(slack.ws)
    assert (policy.digest, policy.digest_channel, policy.digest_time) == (
        "weekly",
        "C0DIGEST",
        "08:15",
    )


# --- the job ---------------------------------------------------------------------------------


def seed_weeks(slack: SlackHarness) -> None:
    """The week of 16-22 November (Paris), the week before it, and one request waiting."""
    ws = slack.ws
    sent = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    add_requests(
        slack.app.db,
        ws,
        [
            {"status": "clicked", "sent_at": sent, "delivered_at": sent, "clicked_at": sent},
            {"status": "failed", "last_error": "21211 invalid number"},
            {"status": "failed", "last_error": "21211 invalid number"},
            {"status": "undelivered", "last_error": HOSTILE},
            {
                "channel": "email", "method": "email", "status": "opened", "sent_at": sent,
                "delivered_at": sent, "opened_at": sent,
            },
            {
                "channel": "whatsapp", "method": "whatsapp", "status": "clicked", "sent_at": sent,
                "delivered_at": sent, "opened_at": sent, "clicked_at": sent,
            },
        ],
        at=sent,
    )  # fmt: skip
    before = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)
    add_requests(
        slack.app.db,
        ws,
        [
            {"status": "sent", "sent_at": before},
            {"status": "clicked", "sent_at": before, "clicked_at": before},
        ],
        at=before,
    )
    add_requests(slack.app.db, ws, [{"status": "queued"}], at=MONDAY_0859 - timedelta(hours=1))


def poster_of(slack: SlackHarness) -> DigestPoster:
    """The job as `start_scheduler` builds it: the app's digests and the outbox's clients."""
    assert slack.app.outbox is not None
    return DigestPoster(slack.app.ops.digests, slack.app.outbox.client_for_workspace)


def weekly(slack: SlackHarness) -> None:
    slack.set_policy(digest="weekly", digest_channel="C0DIGEST", digest_time="09:00")


def test_the_weekly_digest_is_posted_once_with_its_chart_and_figures(
    slack: SlackHarness,
) -> None:
    weekly(slack)
    seed_weeks(slack)
    poster = poster_of(slack)
    # Turned on before 09:00 on a Monday: the week before's is too old to go out now.
    slack.clock.set(MONDAY_0859)
    assert poster.run_once() == 0 and not slack.fake.files
    slack.clock.set(MONDAY_0900)
    assert poster.run_once() == 1
    file_id, posted = list(slack.fake.files.items())[-1]
    assert posted["channel_id"] == "C0DIGEST" and posted["content"].startswith(PNG)
    assert posted["filename"] == "reviews-digest-2026-11-16.png"
    text = posted["initial_comment"]
    assert "*Weekly reviews digest for Acme: 16 Nov to 22 Nov 2026*" in text
    assert "*Funnel*: sent 3 → delivered 3 (100%) → opened 2 (67%) → clicked 2 (67%)" in text
    assert "• *SMS*: sent 1 → delivered 1 (100%) → opened 0 (0%) → clicked 1 (100%)" in text
    assert "• *Email*: sent 1" in text and "• *WhatsApp*: sent 1" in text
    assert (
        "*Against the week before*: sent 3 (+1, +50%, was 2) · clicked 2 (+1, +100%, was 1) · "
        "failed 3 (+3, was 0)"
    ) in text
    assert "*Failed*: 3\n• 2 × 21211 invalid number\n• 1 × &lt;!channel&gt; 30003" in text
    assert "<!channel>" not in text
    assert "10 20 30 40" not in text and "jane@example.com" not in text  # masked
    assert "*Waiting to go out*: 1" in text
    assert "from 2026-11-16 00:00 to 2026-11-22 23:59 (Europe/Paris)" in text
    asked = slack.fake.calls_to("files.getUploadURLExternal")[-1]
    assert asked["alt_txt"].startswith("Chart. Funnel by channel: Email: 1 sent")
    # Later runs, the same day or the next, post nothing more; the period is recorded.
    assert poster.run_once() == 0
    slack.clock.set(MONDAY_0900 + timedelta(days=1))
    assert poster.run_once() == 0 and len(slack.fake.files) == 1
    with slack.app.db.read() as session:
        rows = session.exec(select(DigestPost).order_by(DigestPost.period)).all()
    assert [(r.period, r.channel, r.posted_at) for r in rows] == [
        ("weekly:2026-11-16", "C0DIGEST", MONDAY_0900),
    ]
    assert rows[0].file_id == file_id


def test_a_digest_off_or_without_its_time_posts_nothing(slack: SlackHarness) -> None:
    seed_weeks(slack)
    slack.clock.set(MONDAY_0900)
    assert poster_of(slack).run_once() == 0  # digest off (the default)
    slack.set_policy(digest="daily", digest_channel="C0DIGEST", digest_time="10:30")
    assert poster_of(slack).run_once() == 0  # today's 10:30 has not come; Sunday's is stale
    slack.clock.set(MONDAY_0900 + timedelta(hours=1, minutes=30))
    assert poster_of(slack).run_once() == 1
    assert slack.fake.files.popitem()[1]["filename"] == "reviews-digest-2026-11-22.png"


def test_two_scheduler_processes_post_a_digest_once(slack: SlackHarness) -> None:
    weekly(slack)
    seed_weeks(slack)
    slack.clock.set(MONDAY_0900)
    console = ConsoleSender(stream=io.StringIO())
    other = create_app(
        slack.settings,
        clock=slack.clock,
        senders=dict.fromkeys(("sms", "email", "whatsapp"), console),
    )
    try:
        assert other.outbox is not None
        posters = [
            poster_of(slack),
            DigestPoster(other.ops.digests, other.outbox.client_for_workspace),
        ]
        start = threading.Barrier(2)
        posted: list[int] = []

        def run(poster: DigestPoster) -> None:
            start.wait()
            posted.append(poster.run_once())

        threads = [threading.Thread(target=run, args=(p,)) for p in posters]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(posted) == [0, 1]
        assert len(slack.fake.files) == 1
        assert len(slack.fake.calls_to("files.completeUploadExternal")) == 1
    finally:
        other.close()


def test_slack_saying_not_now_is_retried_and_a_refusal_is_not(slack: SlackHarness) -> None:
    weekly(slack)
    seed_weeks(slack)
    slack.clock.set(MONDAY_0900)
    poster = poster_of(slack)
    slack.fake.fail_next("files.getUploadURLExternal", status=500)
    assert poster.run_once() == 0 and slack.fake.files == {}
    assert poster.run_once() == 1 and len(slack.fake.files) == 1  # given back, posted next run
    # Next week, the channel is gone: refused, and not tried again every few minutes.
    slack.clock.set(MONDAY_0900 + timedelta(days=7))
    slack.fake.fail_next("files.completeUploadExternal", error="channel_not_found")
    assert poster.run_once() == 0
    assert poster.run_once() == 0
    assert len(slack.fake.calls_to("files.completeUploadExternal")) == 2
    assert len(slack.fake.files) == 1


def test_a_refused_digest_is_told_once_in_the_alert_channel(slack: SlackHarness) -> None:
    weekly(slack)
    seed_weeks(slack)
    slack.clock.set(MONDAY_0900)
    poster = poster_of(slack)
    # Its own channel is the only one: nobody else to tell, nothing posted anywhere.
    slack.fake.fail_next("files.completeUploadExternal", error="not_in_channel")
    assert poster.run_once() == 0
    assert slack.fake.calls_to("chat.postMessage") == []

    slack.set_policy(alert_channel="C0ALERTS")
    slack.clock.set(MONDAY_0900 + timedelta(days=7))
    slack.fake.fail_next("files.completeUploadExternal", error="channel_not_found")
    assert poster.run_once() == 0 and poster.run_once() == 0
    [alert] = slack.fake.calls_to("chat.postMessage")
    assert alert["channel"] == "C0ALERTS"
    assert "could not be posted in <#C0DIGEST>" in alert["text"]
    assert "`channel_not_found`" in alert["text"] and "/reviews settings" in alert["text"]


def test_a_share_whose_answer_is_lost_is_not_tried_again_but_a_429_is(
    slack: SlackHarness,
) -> None:
    weekly(slack)
    seed_weeks(slack)
    slack.clock.set(MONDAY_0900)
    poster = poster_of(slack)
    # Slack shares the file, then answers 500: the digest shows, so it is not posted again.
    slack.fake.fail_next("files.completeUploadExternal", status=500, after_storing=True)
    assert poster.run_once() == 0 and poster.run_once() == 0
    assert len(slack.fake.files) == 1
    # Next week, a 429 on the share: nothing was shared, so a later run shares it once.
    slack.clock.set(MONDAY_0900 + timedelta(days=7))
    slack.fake.fail_next("files.completeUploadExternal", status=429)
    assert poster.run_once() == 0 and len(slack.fake.files) == 1
    assert poster.run_once() == 1 and poster.run_once() == 0
    assert len(slack.fake.files) == 2


def test_the_job_is_registered_where_slack_is(slack: SlackHarness) -> None:
    app = create_app(slack.settings, clock=slack.clock)
    try:
        app.start_scheduler()
        assert "digest" in app.scheduler.job_ids()
    finally:
        app.close()


# --- the chart -------------------------------------------------------------------------------


def sample_report(db: Any, ws: int) -> Any:
    period = due_period(SAMPLE_NOW, frequency="weekly", at="09:00", timezone=SAMPLE_TZ)
    assert period is not None
    seed_sample(db, ws, end=period.end)
    buckets = series_buckets(series_start(period, SAMPLE_TZ), period.end, timezone=SAMPLE_TZ)
    return detailed_report(
        db,
        ws,
        start=period.start,
        end=period.end,
        previous_start=period.previous_start,
        buckets=[(b.start, b.end) for b in buckets],
    )


def test_the_sample_chart_is_a_deterministic_png_without_software_or_date(
    slack: SlackHarness,
) -> None:
    report = sample_report(slack.app.db, slack.ws)
    assert [p.start.isoformat() for p in report.series][:2] == [
        "2026-11-15T23:00:00+00:00",
        "2026-11-16T23:00:00+00:00",
    ]
    assert sum(p.tally.sent for p in report.series) == report.stats.overall.sent > 0
    assert report.previous.overall.sent > 0 and report.failed == report.stats.overall.failed
    first = render_chart(report, title="Reviews: sample", timezone=SAMPLE_TZ)
    assert first.startswith(PNG)
    assert first == render_chart(report, title="Reviews: sample", timezone=SAMPLE_TZ)
    assert b"Software" not in first and b"matplotlib" not in first
    alt = chart_alt_text(report, timezone=SAMPLE_TZ)
    assert alt.startswith("Chart. Funnel by channel: Email: ") and len(alt) <= 1000
    assert "Per day from 16 Nov 2026 to 22 Nov 2026: busiest " in alt


def test_the_digest_text_bounds_what_providers_wrote() -> None:
    start = datetime(2026, 11, 16, tzinfo=UTC)
    end = start + timedelta(days=7)
    stats = PeriodStats(start=start, end=end, overall=Tally(sent=9, failed=7))
    long = [(f"{n} " + "x" * 499, 1) for n in range(5)]
    report = DetailedReport(stats, PeriodStats(start, start), long, 7, [], 0)
    text = digest_text(report, label="a week", frequency="weekly", business="", timezone="UTC")
    reasons = [line for line in text.splitlines() if line.startswith("• 1 ×")]
    assert len(reasons) == 5 and all(len(line) < 160 for line in reasons)
    assert "• 2 × other reasons" in text and "*Failed*: 7" in text
    assert len(text) <= 3500


def test_a_daily_digest_draws_the_week_that_led_to_it() -> None:
    day = due_period(MONDAY_0900, frequency="daily", at="09:00", timezone="Europe/Paris")
    assert day is not None
    buckets = series_buckets(series_start(day, "Europe/Paris"), day.end, timezone="Europe/Paris")
    assert [b.day.isoformat() for b in (buckets[0], buckets[-1])] == ["2026-11-16", "2026-11-22"]
    assert len(buckets) == 7


# --- /reviews stats ... chart ----------------------------------------------------------------


def test_stats_with_chart_answers_as_before_and_sends_the_chart_in_a_dm(
    slack: SlackHarness,
) -> None:
    seed_weeks(slack)
    slack.clock.set(MONDAY_0900)
    assert slack.post_command("stats 30d chart", user=ADMIN).status_code == 200
    answer = slack.answer()
    assert answer["response_type"] == "ephemeral"
    assert "*Last 30 days*: sent 5 · delivered 3 · opened 2 · clicked 3 · failed 3" in text_of(
        answer
    )
    assert slack.fake.wait_for(lambda: slack.fake.files, timeout=10)
    ((_, posted),) = slack.fake.files.items()
    assert posted["channel_id"].startswith("D") and posted["content"].startswith(PNG)
    assert "*Reviews chart: Last 30 days*" in posted["initial_comment"]
    assert "*Funnel*: sent 5 → delivered 3 (60%)" in posted["initial_comment"]
    (asked,) = slack.fake.calls_to("files.getUploadURLExternal")
    assert asked["alt_txt"].startswith("Chart. Funnel by channel:")
    assert slack.fake.wait_for(
        lambda: any("direct message" in str(r) for r in slack.fake.responses), timeout=5
    )


def test_stats_without_chart_uploads_nothing(slack: SlackHarness) -> None:
    slack.clock.set(MONDAY_0900)
    assert slack.post_command("stats 30d", user=ADMIN).status_code == 200
    slack.answer()
    assert slack.fake.calls_to("files.getUploadURLExternal") == []


@pytest.mark.parametrize(
    ("typed", "period", "chart"),
    [
        ("30d chart", "30d", True),
        ("chart", "", True),
        ("CHART from:2026-11-01 to:2026-11-15", "from:2026-11-01 to:2026-11-15", True),
        ("30d", "30d", False),
        ("30d charts", "30d charts", False),  # left to the period's parser, which refuses it
    ],
)
def test_the_word_chart_is_taken_out_of_the_period(typed: str, period: str, chart: bool) -> None:
    assert wants_chart(typed) == (period, chart)
