"""Names, references, replies and settings with `<>&` shown on every Slack surface, as words.

Each surface is driven like Slack drives it (signed slash commands, button presses, the
app_home_opened event) and checked on what the fake Slack received: every mrkdwn text and
fallback text holds no markup our own code did not write.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.usecases.feedback import Feedback
from handlers.blocks.controls import CUSTOMER_OPEN
from tests.slack_harness import SlackHarness, find_element, slack_fixture  # noqa: F401
from tests.test_settings_modal import open_form, preview_text, type_sms
from tests.test_slack_home import opened_home
from tests.test_trust_escape import assert_no_foreign_markup, foreign_markup, mrkdwn_texts

NAME = "<!channel> Bob & <@U0BOSS>"
REFERENCE = "<https://evil.example|A-1>"
REPLY = "<!here> see <https://evil.example|my order> &lt;3"
PHONE = "+33610203040"


def ask(slack: SlackHarness, text: str) -> dict[str, Any]:
    """Run /reviews <text>; return the ephemeral answer."""
    assert slack.post_command(text).status_code == 200
    return slack.answer()


def assert_words_only(message: dict[str, Any]) -> None:
    """No mention or link formed in any mrkdwn or fallback text (plain_text is never parsed)."""
    texts = "\n".join(mrkdwn_texts(message))
    for evil in ("<!channel>", "<!here>", "<@U0BOSS>", "<https://evil"):
        assert evil not in texts, texts
    assert_no_foreign_markup(message)


@pytest.fixture
def evil(slack: SlackHarness) -> SlackHarness:
    """#1 for a customer named with markup, its reference a disguised link, who replied so."""
    slack.set_policy(cooldown_days=0, delay="0", send_window="always")
    slack.create(NAME, phone=PHONE, email="bob@example.com", reference=REFERENCE, when="now")
    slack.app.dispatcher.run_until_idle()
    Feedback(slack.ops).inbound(sid="SMevil1", from_=PHONE, to="+15005550006", body=REPLY)
    return slack


def test_the_list_shows_markup_as_words(evil: SlackHarness) -> None:
    answer = ask(evil, "list")
    assert_words_only(answer)
    assert any("&lt;!channel&gt; Bob &amp; &lt;@U0BOSS&gt;" in t for t in mrkdwn_texts(answer))


def test_a_list_filter_is_echoed_as_words(evil: SlackHarness) -> None:
    answer = ask(evil, "list ref:<https://evil.example|A-1> <!channel>")
    assert_words_only(answer)


def test_show_shows_markup_as_words(evil: SlackHarness) -> None:
    answer = ask(evil, "show #1")
    assert_words_only(answer)
    texts = "\n".join(mrkdwn_texts(answer))
    assert "&lt;https://evil.example|A-1&gt;" in texts
    assert answer["text"].startswith("#1 &lt;!channel&gt; Bob &amp; &lt;@U0BOSS&gt;")


def test_the_customer_view_quotes_the_reply_as_words(evil: SlackHarness) -> None:
    detail = ask(evil, "show #1")
    element = find_element(detail, CUSTOMER_OPEN)
    payload = evil.action_payload(CUSTOMER_OPEN, element["value"])
    assert evil.post_action(payload).status_code == 200
    answer = evil.answer()
    assert_words_only(answer)
    texts = "\n".join(mrkdwn_texts(answer))
    assert ">&lt;!here&gt; see &lt;https://evil.example|my order&gt; &amp;lt;3" in texts


def test_the_home_tab_shows_markup_as_words(evil: SlackHarness) -> None:
    view = opened_home(evil)
    assert_words_only(view)
    assert any("&lt;!channel&gt; Bob" in t for t in mrkdwn_texts(view))


def test_a_refusal_echoes_what_was_typed_as_words(slack: SlackHarness) -> None:
    answer = ask(slack, "send Jane +33 6 10 20 30 40 in:<!channel>")
    assert_words_only(answer)
    assert "&lt;!channel&gt;" in answer["text"]


def test_settings_show_shows_the_business_name_as_words(slack: SlackHarness) -> None:
    slack.set_policy(business_name="Acme <!channel> & Co")
    answer = ask(slack, "settings show")
    assert_words_only(answer)
    assert any("Acme &lt;!channel&gt; &amp; Co" in t for t in mrkdwn_texts(answer))


def test_the_sms_estimate_quotes_a_broken_template_as_words(slack: SlackHarness) -> None:
    view = open_form(slack)
    redrawn = type_sms(slack, view, "Hi {{ name }} <!channel> {{ <https://evil.example|x> }}")
    preview = preview_text(redrawn)
    assert preview.startswith(":warning:")
    assert foreign_markup(preview) == [] and "<https://evil" not in preview
