"""Default and custom templates: every language names the business and ends with the opt-out
notice; a workspace's own email body is sent in both parts; the SMS preview costs what a send does."""

from __future__ import annotations

import secrets

import pytest
from jinja2 import Environment, meta

from bot.clock import FrozenClock
from bot.compose import SAMPLE_TOKEN, Composer
from bot.delivery.smtp import SmtpSender
from bot.domain import templating
from bot.domain.policy import WorkspacePolicy
from bot.usecases.inputs import RequestCreate
from store.db import Database
from tests.fakes.smtp_server import SmtpServer
from tests.helpers import ALICE, PUBLIC_URL, Engine

CONTEXT = {"name": "Jane", "business": "Acme", "link": "https://r.example/x", "reference": ""}


@pytest.mark.parametrize("language", templating.LANGUAGES)
def test_each_default_sms_names_the_business_and_ends_with_the_stop_notice(language: str) -> None:
    text = templating.compose_sms(None, CONTEXT, language)
    assert "Acme" in text and "Jane" in text and "https://r.example/x" in text
    assert text.endswith(templating.OPT_OUT_NOTICE[language])
    assert "STOP" in templating.OPT_OUT_NOTICE[language]


@pytest.mark.parametrize("language", templating.LANGUAGES)
@pytest.mark.parametrize(
    "part",
    ["sms.txt.j2", "whatsapp.txt.j2", "email.txt.j2", "email.html.j2", "email_subject.txt.j2"],
)
def test_every_default_exists_per_language_and_uses_only_known_placeholders(
    language: str, part: str
) -> None:
    source = templating.load_default(part, language)
    # Our own templates may use tags ({% if %}); a workspace's text may not.
    used = meta.find_undeclared_variables(Environment(autoescape=True).parse(source))
    assert used <= templating.EMAIL_PLACEHOLDERS
    if part != "email_subject.txt.j2":
        assert "{{ business }}" in source and "{{ name }}" in source


def test_the_defaults_differ_by_language() -> None:
    texts = {templating.compose_sms(None, CONTEXT, lang) for lang in templating.LANGUAGES}
    assert len(texts) == 3
    # An unknown language falls back to English rather than failing.
    assert templating.compose_sms(None, CONTEXT, "de") == templating.compose_sms(
        None, CONTEXT, "en"
    )


def test_a_custom_email_body_becomes_escaped_html_with_live_links() -> None:
    text = "Dear <Jane> & co,\n\nTell us:\nhttps://r.example/x?a=1&b=2"
    html = templating.plain_to_html(
        text, unsubscribe_url="https://r.example/u/x", pixel_url="https://r.example/o/x.gif"
    )
    assert "<p>Dear &lt;Jane&gt; &amp; co,</p>" in html
    assert '<a href="https://r.example/x?a=1&amp;b=2">https://r.example/x?a=1&amp;b=2</a>' in html
    assert "Tell us:<br>" in html
    assert '<a href="https://r.example/u/x">Unsubscribe</a>' in html
    assert '<img src="https://r.example/o/x.gif"' in html
    # Already offered in the text: not added twice.
    again = templating.plain_to_html(
        "Leave: https://r.example/u/x", unsubscribe_url="https://r.example/u/x"
    )
    assert ">Unsubscribe</a>" not in again


def test_the_sms_preview_renders_like_a_send_with_a_link_of_real_length() -> None:
    assert len(SAMPLE_TOKEN) == len(secrets.token_urlsafe(18))
    composer = Composer(public_url="https://reviews.example.test/")
    policy = WorkspacePolicy(business_name="Acme")
    preview = composer.preview_sms(policy, "Thanks {{ name }} from {{ business }}", "fr")
    assert preview == (
        f"Thanks Jane Doe from Acme https://reviews.example.test/r/{SAMPLE_TOKEN} "
        "STOP pour ne plus recevoir de SMS"
    )
    default = composer.preview_sms(policy, "  ", "sv")
    assert default.startswith("Hej Jane Doe") and default.endswith("avregistrera dig")


def test_a_custom_email_reaches_the_smtp_server_in_both_parts(
    db: Database, clock: FrozenClock
) -> None:
    with SmtpServer() as smtp:
        engine = Engine(
            db,
            clock,
            senders={"email": SmtpSender(smtp.url, default_from="shop@example.test")},
            email_from_name="Jane at Acme",
            email_subject="{{ business }}: a minute, {{ name }}?",
            email_body="Dear {{ name }},\n\nTell us how it went: {{ link }}",
        )
        request = engine.ops.create(
            engine.ws, RequestCreate(name="Bob <b>", email="bob@example.com"), ALICE
        )
        engine.dispatcher.run_until_idle()
        (received,) = smtp.messages
    email = received.message
    token = engine.ops.show(engine.ws, request.number).messages[0].token
    assert email["Subject"] == "Acme: a minute, Bob <b>?"
    assert "Jane at Acme" in email["From"]
    parts = {
        p.get_content_type(): p.get_content().replace("\r\n", "\n")
        for p in email.walk()
        if not p.is_multipart()
    }
    assert parts["text/plain"].startswith("Dear Bob <b>,\n\nTell us how it went: ")
    assert f"Unsubscribe: {PUBLIC_URL}/u/{token}" in parts["text/plain"]
    assert "<p>Dear Bob &lt;b&gt;,</p>" in parts["text/html"]
    assert f'<a href="{PUBLIC_URL}/r/{token}">' in parts["text/html"]
    assert "Thank you for choosing" not in parts["text/html"]  # not the default
