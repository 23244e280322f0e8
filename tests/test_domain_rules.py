"""Pure domain rules: status machine, phone numbers, send window, timing, templates, policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import contacts, templating
from bot.domain.errors import InvalidInput
from bot.domain.policy import WorkspacePolicy, policy_errors
from bot.domain.policy_edit import parse_setting_assignments
from bot.domain.status import RANK, TERMINAL, Status, advance, keep_error, request_status
from bot.domain.timing import parse_delay, parse_when
from bot.domain.window import next_allowed, parse_window
from tests.fakes.twilio_api import num_segments

# --- status machine --------------------------------------------------------------------------


@given(st.lists(st.sampled_from(list(Status)), min_size=1, max_size=30))
def test_status_never_moves_backwards(reports: list[Status]) -> None:
    current = Status.QUEUED
    for new in reports:
        after = advance(current, new)
        assert RANK[after] >= RANK[current]
        if current in TERMINAL:
            # An ending stays an ending; only a higher-ranked one replaces it.
            assert after == current or (after in TERMINAL and after == new)
        current = after


DELIVERY = [Status.SENT, Status.DELIVERED, Status.READ]


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from(DELIVERY), min_size=1, max_size=12),
    st.sampled_from([None, Status.UNDELIVERED, Status.FAILED]),
    st.randoms(),
)
def test_final_status_is_the_highest_ranked_received(
    reports: list[Status], ending: Status | None, rnd: object
) -> None:
    received = [*reports, *([ending] if ending else [])]
    shuffled = list(received)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    current = Status.SENDING
    for status in shuffled:
        current = advance(current, status)
    assert current == max(received, key=RANK.__getitem__)


def test_error_is_never_cleared() -> None:
    assert keep_error("30003", None) == "30003"
    assert keep_error("30003", "30005") == "30003"
    assert keep_error(None, "30005") == "30005"


def test_request_status_prefers_customer_action_then_best_progress() -> None:
    assert request_status([Status.DELIVERED, Status.QUEUED]) is Status.DELIVERED
    assert request_status([Status.FAILED, Status.QUEUED]) is Status.QUEUED
    assert request_status([Status.FAILED, Status.CANCELED]) is Status.FAILED
    assert request_status([Status.CLICKED, Status.COMPLAINED]) is Status.COMPLAINED


# --- contacts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["0610203040", "33610203040", "610203040", "06 10 20 30 40", "+33 6 10 20 30 40"]
)
def test_french_forms_normalise_to_e164(raw: str) -> None:
    assert contacts.normalize_phone(raw, "FR", require_mobile=True) == "+33610203040"


def test_landline_refused_for_sms_with_a_clear_message() -> None:
    with pytest.raises(InvalidInput, match="landline") as caught:
        contacts.normalize_phone("01 23 45 67 89", "FR", require_mobile=True)
    assert caught.value.field == "phone"
    assert contacts.normalize_phone("01 23 45 67 89", "FR", require_mobile=False) == "+33123456789"


# Mainland French mobile prefixes (063x and 069x include overseas regions' ranges).
@given(
    st.integers(min_value=0, max_value=9_999_999),
    st.sampled_from(["61", "62", "64", "65", "66", "67", "68", "75", "76", "77", "78"]),
)
def test_french_mobiles_round_trip_in_every_written_form(rest: int, lead: str) -> None:
    national = f"0{lead}{rest:07d}"
    expected = f"+33{lead}{rest:07d}"
    spaced = " ".join(national[i : i + 2] for i in range(0, 10, 2))
    for form in (national, national[1:], "33" + national[1:], spaced, expected):
        assert contacts.normalize_phone(form, "FR", require_mobile=True) == expected


def test_email_and_name_rules() -> None:
    assert contacts.normalize_email(" Jane@Example.com ") == "Jane@example.com"
    with pytest.raises(InvalidInput) as caught:
        contacts.normalize_email("jane@@example.com")
    assert caught.value.field == "email"
    assert contacts.normalize_name("   ") == "customer"
    assert contacts.mask_phone("+33610203040") == "+33 •••• ••40"
    assert contacts.mask_email("jane@example.com") == "j•••@example.com"


@pytest.mark.parametrize(
    ("e164", "country"),
    [
        ("+15005550006", "+1"),  # 1 digit
        ("+447700900123", "+44"),  # 2
        ("+35312345678", "+353"),  # 3 (+35 is no country)
        ("+8613800138000", "+86"),
        ("+9715012345678", "+971"),
        ("+0123456789", ""),  # no country code starts with 0
        ("0610203040", ""),  # not E.164
    ],
)
def test_a_masked_phone_keeps_its_country_code_as_phonenumbers_reads_it(
    e164: str, country: str
) -> None:
    assert contacts.mask_phone(e164) == f"{country} •••• ••{e164[-2:]}".strip()
    if country:
        assert f"+{phonenumbers.parse(e164, None).country_code}" == country


# --- send window ----------------------------------------------------------------------------------

WEEKDAYS = parse_window("mon-fri 09:00-19:00")


def test_friday_night_goes_out_monday_morning_local_time() -> None:
    friday_22_paris = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    result = next_allowed(friday_22_paris, "Europe/Paris", WEEKDAYS, None)
    assert result.astimezone(ZoneInfo("Europe/Paris")) == datetime(
        2026, 11, 30, 9, 0, tzinfo=ZoneInfo("Europe/Paris")
    )


def test_public_holidays_are_skipped() -> None:
    christmas_eve_evening = datetime(2026, 12, 24, 19, 0, tzinfo=UTC)
    result = next_allowed(christmas_eve_evening, "Europe/Paris", WEEKDAYS, "FR")
    assert result.astimezone(ZoneInfo("Europe/Paris")).date().isoformat() == "2026-12-28"


def test_spring_forward_gap_opens_at_the_jump() -> None:
    window = parse_window("sun 02:30-04:00")
    result = next_allowed(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), "Europe/Paris", window, None)
    assert result == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, the first real instant


def test_window_inside_a_dst_gap_moves_to_the_next_day() -> None:
    window = parse_window("mon-sun 02:00-02:45")
    saturday = datetime(2026, 3, 7, 8, 0, tzinfo=UTC)  # New York springs forward on Sunday
    result = next_allowed(saturday, "America/New_York", window, None)
    assert result == datetime(2026, 3, 9, 6, 0, tzinfo=UTC)  # Monday 02:00 EDT


@settings(max_examples=400)
@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001  (hypothesis wants naive bounds)
        max_value=datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.sampled_from(["Europe/Paris", "America/New_York"]),
    st.sampled_from(["mon-fri 09:00-19:00", "sat,sun 01:30-03:30", "mon-sun 02:00-02:45"]),
)
def test_window_property_inside_and_earliest(now: datetime, tz: str, text: str) -> None:
    window = parse_window(text)
    result = next_allowed(now, tz, window, None)
    zone = ZoneInfo(tz)
    assert result >= now
    assert window.allows(result.astimezone(zone))
    # No allowed minute was skipped between now and the result.
    probe = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    steps = 0
    while probe < result and steps < 60 * 24 * 9:
        assert not window.allows(probe.astimezone(zone)), probe
        probe += timedelta(minutes=1 if result - probe < timedelta(hours=2) else 15)
        steps += 1


def test_bad_windows_are_refused() -> None:
    for bad in ("weekdays", "mon-fri 19:00-09:00", "mon-xyz 09:00-10:00"):
        with pytest.raises(InvalidInput) as caught:
            parse_window(bad)
        assert caught.value.field == "send_window"


# --- timing ----------------------------------------------------------------------------------------


def test_delays_and_times() -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parse_delay("2h") == timedelta(hours=2)
    assert parse_delay("7d") == timedelta(days=7)
    assert parse_when("in:2h", now=now, tz="Europe/Paris") == now + timedelta(hours=2)
    tomorrow = parse_when("tomorrow 10:00", now=now, tz="Europe/Paris")
    assert tomorrow == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    exact = parse_when("2026-12-01T10:00", now=now, tz="Europe/Paris")
    assert exact == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="already passed"):
        parse_when("2026-01-01 10:00", now=now, tz="UTC")
    with pytest.raises(InvalidInput):
        parse_delay("soon")


# --- templates -------------------------------------------------------------------------------------


def test_default_sms_names_business_and_ends_with_stop() -> None:
    context = {"name": "Jane", "business": "Acme", "link": "https://r/x", "reference": ""}
    for language in templating.LANGUAGES:
        text = templating.compose_sms(None, context, language)
        assert "Acme" in text and "https://r/x" in text
        assert text.rstrip().split()[-1].upper() != "" and "STOP" in text.upper()


def test_custom_sms_gets_link_and_opt_out_appended() -> None:
    context = {"name": "Jane", "business": "Acme", "link": "https://r/x", "reference": "A1"}
    text = templating.compose_sms("Merci {{ name }} ({{ reference }})", context, "fr")
    assert text == "Merci Jane (A1) https://r/x STOP pour ne plus recevoir de SMS"


@pytest.mark.parametrize(
    "source",
    [
        "{{ name.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ name | attr('upper') }}",
        "{{ cycler }}",
    ],
)
def test_template_injection_is_refused(source: str) -> None:
    with pytest.raises(InvalidInput):
        templating.validate_template(source, allowed=templating.SMS_CUSTOM_PLACEHOLDERS, field="t")


def test_segments_gsm_and_ucs2() -> None:
    assert templating.sms_segments("a" * 160) == templating.SegmentInfo("GSM-7", 1, 160)
    assert templating.sms_segments("a" * 161).segments == 2
    assert templating.sms_segments("€" * 80).segments == 1  # two septets each
    assert templating.sms_segments("é" * 70).encoding == "GSM-7"
    assert templating.sms_segments("ł" * 70) == templating.SegmentInfo("UCS-2", 1, 70)
    assert templating.sms_segments("ł" * 71).segments == 2


def test_segments_count_extension_characters_twice() -> None:
    assert templating.sms_segments("{" * 80) == templating.SegmentInfo("GSM-7", 1, 80)
    assert templating.sms_segments("{" * 80 + "a").segments == 2  # 161 septets
    assert templating.sms_segments("a]" * 51).segments == 1  # 153 septets, one segment


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("aZ9 @£{}[]~|€^\\\fé\nłç😀"), max_size=400))
def test_segments_match_the_carriers_count(text: str) -> None:
    # The fake Twilio's count is written apart from ours, as carriers count.
    assert templating.sms_segments(text).segments == (num_segments(text) if text else 0)


def test_html_email_escapes_customer_values() -> None:
    html = templating.render_html(
        templating.load_default("email.html.j2", "en"),
        {
            "name": "<script>x</script>",
            "business": "A",
            "link": "l",
            "reference": "",
            "unsubscribe_link": "u",
            "pixel_url": "",
        },
    )
    assert "<script>" not in html and "&lt;script&gt;" in html


# --- policy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("sms_sender", "TOO LONG NAME", "11"),
        ("sms_sender", "Acme-Shop", "11"),
        ("sms_sender", "12345", "digits only"),
        ("sms_template", "x" * 111, "111"),
        ("sms_template", "Hi {{ nom }}", "Unknown placeholder"),
        ("timezone", "Mars/Olympus", "timezone"),
        ("reminders", "6", "5"),
        ("landing_url_service", "not a url", "web address"),
        ("holidays", "XX", "holidays"),
        ("send_window", "sometimes", "send window"),
    ],
)
def test_invalid_settings_are_refused_on_their_field(key: str, value: str, words: str) -> None:
    errors = policy_errors({**WorkspacePolicy().model_dump(), key: value})
    assert list(errors) == [key]
    assert words.lower() in errors[key].lower()


def test_settings_assignments_are_all_or_nothing() -> None:
    base = WorkspacePolicy()
    changed = parse_setting_assignments(
        base, ["region=fr", "delay=1d", "fallback_email=off", "holidays=FR"]
    )
    assert (changed.region, changed.delay, changed.fallback_email, changed.holidays) == (
        "FR",
        "1d",
        False,
        "FR",
    )
    with pytest.raises(InvalidInput) as caught:
        parse_setting_assignments(base, ["region=FR", "sms_sender=12345"])
    assert caught.value.field == "sms_sender"
    with pytest.raises(InvalidInput, match="Unknown setting"):
        parse_setting_assignments(base, ["colour=blue"])
    assert base.region == "US"
