"""Tracked review links, the open pixel and one-click unsubscribe, through the running app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.domain.errors import InvalidInput
from bot.webhooks import PIXEL
from store.models import Contact
from tests.fakes.smtp_server import SmtpServer
from tests.helpers import ALICE
from tests.test_webhooks_twilio import BROWSER, Web, running

EMAIL = "jane@example.com"


@pytest.fixture
def web(database_url: str, clock: FrozenClock, smtp: SmtpServer) -> Iterator[Web]:
    with running(database_url, clock, smtp_url=smtp.url, cooldown_days=0) as served:
        yield served


def get(url: str, *, agent: str = BROWSER, method: str = "GET") -> requests.Response:
    return requests.request(
        method, url, headers={"User-Agent": agent}, allow_redirects=False, timeout=5
    )


def link(web: Web, number: int, index: int = 0) -> str:
    return f"{web.url}/r/{web.message(number, index).token}"


def email_contact(web: Web) -> Contact:
    with web.app.db.read() as session:
        return session.exec(select(Contact).where(Contact.email == EMAIL)).one()


# --- tracked link ----------------------------------------------------------------------------


def test_click_redirects_to_the_landing_page_and_counts_once(web: Web) -> None:
    request = web.create()
    web.send_all()
    assert link(web, request.number) in web.twilio.messages[0]["Body"]
    for _ in range(3):
        response = get(link(web, request.number))
        assert response.status_code == 302
        assert response.headers["Location"] == "https://g.page/r/acme-service"
        assert "no-store" in response.headers["Cache-Control"]
    detail = web.ops.show(web.ws, request.number)
    assert detail.messages[0].status == "clicked"
    assert detail.request.status == "clicked"
    assert detail.request.clicked_at == web.clock.now()
    assert len([e for e in detail.events if e.kind == "clicked"]) == 1
    assert [c.text for c in web.changes("clicked")] == ["Jane Doe clicked the review link"]


def test_landing_page_follows_type_and_language(web: Web) -> None:
    product = web.create(review_type="product")
    french = web.create(phone="+33615550101", language="fr")
    swedish = web.create(phone="+33615550102", language="sv")
    assert get(link(web, product.number)).headers["Location"] == "https://g.page/r/acme-product"
    french_landing = get(link(web, french.number)).headers["Location"]
    assert french_landing == "https://g.page/r/acme-service-fr"
    # No Swedish page configured: the service default.
    assert get(link(web, swedish.number)).headers["Location"] == "https://g.page/r/acme-service"


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Barracuda Sentinel)",
        "Proofpoint URL Defense",
        "Mimecast-Link-Scanner/1.0",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0)",
        "Mozilla/5.0 SafeLinks",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "facebookexternalhit/1.1",
        "Mozilla/5.0 (compatible; Googlebot/2.1)",
        "WhatsApp link preview",
        "",
    ],
)
def test_scanners_and_head_do_not_count(web: Web, agent: str) -> None:
    request = web.create()
    web.send_all()
    assert get(link(web, request.number), agent=agent).status_code == 302
    assert get(link(web, request.number), method="HEAD").status_code == 302
    assert web.message(request.number).status == "sent"
    assert web.message(request.number).clicked_at is None
    assert get(link(web, request.number)).status_code == 302
    assert web.message(request.number).status == "clicked"


def test_unknown_tokens_are_404(web: Web) -> None:
    for path in ("/r/nope", "/o/nope.gif", "/u/nope"):
        assert get(web.url + path).status_code == 404
    response = requests.post(f"{web.url}/u/nope", data={"List-Unsubscribe": "One-Click"}, timeout=5)
    assert response.status_code == 404


def test_click_cancels_pending_reminders(database_url: str, clock: FrozenClock) -> None:
    with running(database_url, clock, reminders=2, reminder_interval_days=3) as web:
        request = web.create()
        web.send_all()
        kinds = [(m.kind, m.status) for m in web.messages(request.number)]
        assert kinds == [("initial", "sent"), ("reminder", "queued")]
        get(link(web, request.number))
        assert web.message(request.number, 1).status == "canceled"
        assert web.ops.show(web.ws, request.number).request.status == "clicked"
        web.clock.advance(timedelta(days=30))
        assert web.send_all() == 0
        assert len(web.twilio.messages) == 1


def test_a_click_on_a_deleted_request_still_lands_but_records_nothing(web: Web) -> None:
    request = web.create()
    web.send_all()
    url = link(web, request.number)
    web.ops.delete(web.ws, request.number, ALICE)
    assert get(url).headers["Location"] == "https://g.page/r/acme-service"
    assert web.message(request.number).clicked_at is None


# --- open pixel ------------------------------------------------------------------------------


def test_pixel_records_an_open_once_for_email(web: Web, smtp: SmtpServer) -> None:
    request = web.create(method="email", email=EMAIL, phone=None)
    web.send_all()
    pixel = f"{web.url}/o/{web.message(request.number).token}.gif"
    html = next(
        part.get_content()
        for part in smtp.messages[0].message.walk()
        if part.get_content_type() == "text/html"
    )
    assert pixel in html
    for _ in range(2):
        response = get(pixel)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/gif"
        assert "no-cache" in response.headers["Cache-Control"]
        assert response.content == PIXEL
    detail = web.ops.show(web.ws, request.number)
    assert detail.messages[0].status == "opened"
    assert detail.request.opened_at == web.clock.now()
    assert [c.text for c in web.changes("opened")] == [
        "Email opened (may include mail privacy prefetch)"
    ]


def test_pixel_does_not_open_an_sms(web: Web) -> None:
    request = web.create()
    web.send_all()
    response = get(f"{web.url}/o/{web.message(request.number).token}.gif")
    assert response.status_code == 200
    assert web.message(request.number).status == "sent"


# --- unsubscribe -----------------------------------------------------------------------------


def test_one_click_unsubscribe_with_a_real_post(web: Web, smtp: SmtpServer) -> None:
    first = web.create(method="email", email=EMAIL, phone=None)
    web.send_all()
    queued = web.create(method="email", email=EMAIL, phone=None, delay=timedelta(days=2))
    email = smtp.messages[0].message
    target = email["List-Unsubscribe"].strip("<>")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # What a mailbox provider sends (RFC 8058): a POST with exactly this body, no cookies.
    response = requests.post(
        target,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status_code == 200
    assert email_contact(web).email_opted_out_at == web.clock.now()
    assert web.message(first.number).status == "unsubscribed"
    canceled = web.message(queued.number)
    assert (canceled.status, canceled.error_reason) == ("canceled", "The customer unsubscribed")
    [alert] = web.changes("unsubscribed")
    assert alert.alert
    # A second POST is harmless; later sends are refused.
    assert requests.post(target, data={"List-Unsubscribe": "One-Click"}, timeout=5).ok
    assert len(web.changes("unsubscribed")) == 1
    with pytest.raises(InvalidInput, match="unsubscribed"):
        web.create(method="email", email=EMAIL, phone=None)
    web.clock.advance(timedelta(days=5))
    assert web.send_all() == 0
    assert len(smtp.messages) == 1


def test_unsubscribe_page_asks_first_then_confirms(web: Web) -> None:
    request = web.create(method="email", email=EMAIL, phone=None)
    web.send_all()
    url = f"{web.url}/u/{web.message(request.number).token}"
    page = get(url)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<form method='post'" in page.text and "One-Click" in page.text
    assert email_contact(web).email_opted_out_at is None  # a GET (or a scanner) changes nothing
    assert requests.post(url, data={}, timeout=5).status_code == 400
    assert email_contact(web).email_opted_out_at is None
    done = requests.post(url, data={"List-Unsubscribe": "One-Click", "confirm": "yes"}, timeout=5)
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert email_contact(web).email_opted_out_at is not None


def test_an_unsubscribed_address_is_refused_in_any_case(web: Web, smtp: SmtpServer) -> None:
    web.create(method="email", email="Jane@example.com", phone=None)
    web.send_all()
    target = smtp.messages[0].message["List-Unsubscribe"].strip("<>")
    assert requests.post(target, data={"List-Unsubscribe": "One-Click"}, timeout=5).ok
    with pytest.raises(InvalidInput, match="unsubscribed"):
        web.create(method="email", email="jane@example.com", phone=None)
    # Another way to it (a phone first) still reaches the same contact and sends no email.
    request = web.create(method="sms_or_email", phone="+33615550133", email="JANE@example.com")
    web.clock.advance(timedelta(days=5))
    web.send_all()
    assert [m.channel for m in web.messages(request.number)] == ["sms"]
    assert len(smtp.messages) == 1
    with web.app.db.read() as session:
        assert len(session.exec(select(Contact).where(col(Contact.email).is_not(None))).all()) == 1


def test_an_address_in_another_case_is_the_same_contact(web: Web) -> None:
    first = web.create(method="email", email="Jane@example.com", phone=None)
    second = web.create(method="email", email="jane@EXAMPLE.com", phone=None)
    detail = web.ops.show(web.ws, second.number)
    assert detail.contact is not None
    assert detail.contact.id == web.ops.show(web.ws, first.number).contact.id
