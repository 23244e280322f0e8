"""One list of languages (bot.domain.templating.LANGUAGES): the send form offers exactly those,
and a request in any other is refused."""

from __future__ import annotations

from bot.domain.templating import LANGUAGES
from tests.slack_harness import SlackHarness, slack_fixture  # noqa: F401


def test_the_send_form_offers_the_languages_messages_are_sent_in(slack: SlackHarness) -> None:
    slack.post_command("send")
    view = slack.opened_view()
    (block,) = [b for b in view["blocks"] if b.get("block_id") == "language"]
    offered = [o["value"] for o in block["element"]["options"]]
    assert offered == list(LANGUAGES)


def test_the_quick_form_refuses_a_language_there_is_no_template_for(slack: SlackHarness) -> None:
    assert slack.post_command("send Jane +33 6 10 20 30 40 lang:de").status_code == 200
    assert "'de' is not a language reviews are sent in" in str(slack.answer()["text"])
