"""The fake Slack Web API, driven by the real slack_sdk clients."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack_api import FakeSlack


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(fake_clock: ManualClock) -> Iterator[FakeSlack]:
    with FakeSlack(clock=fake_clock) as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.bot_token, base_url=fake.api_url, timeout=5)


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(title: str = "Ask for a review", n_blocks: int = 1) -> dict:
    return {
        "type": "modal",
        "callback_id": "ask",
        "private_metadata": "req-1",
        "title": {"type": "plain_text", "text": title},
        "blocks": [section(f"block {i}") for i in range(n_blocks)],
    }


def error_of(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return exc.value.response["error"]


def test_auth_test(fake: FakeSlack, client: WebClient) -> None:
    resp = client.auth_test()
    assert resp["team_id"] == "T0001"
    assert resp["user_id"] == "UBOT"
    assert resp["bot_id"]
    assert resp["url"].startswith("https://")
    assert fake.api_url.startswith("http://127.0.0.1:") and fake.api_url.endswith("/api/")


def test_invalid_token(fake: FakeSlack) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=fake.api_url, timeout=5)
    with pytest.raises(SlackApiError) as exc:
        bad.chat_postMessage(channel="C1", text="hi")
    assert error_of(exc) == "invalid_auth"
    assert fake.messages("C1") == []
    # The token may also come as a form param instead of the Bearer header.
    anon = WebClient(base_url=fake.api_url, timeout=5)
    assert anon.api_call("auth.test", params={"token": fake.bot_token})["ok"] is True


def test_post_reply_update(fake: FakeSlack, client: WebClient) -> None:
    root = client.chat_postMessage(channel="C1", text="new request", blocks=[section("*Jane*")])
    assert root["channel"] == "C1"
    assert root["message"]["text"] == "new request"
    reply = client.chat_postMessage(channel="C1", text="sent by SMS", thread_ts=root["ts"])
    broadcast = client.chat_postMessage(
        channel="C1", text="clicked", thread_ts=root["ts"], reply_broadcast=True
    )
    assert float(root["ts"]) < float(reply["ts"]) < float(broadcast["ts"])

    client.chat_update(channel="C1", ts=root["ts"], text="done", blocks=[section("*Done*")])

    [msg] = fake.messages("C1")
    assert msg["text"] == "done"
    assert msg["blocks"] == [section("*Done*")]
    assert msg["has_fallback_text"] is True
    assert [r["text"] for r in msg["replies"]] == ["sent by SMS", "clicked"]
    assert msg["replies"][1]["reply_broadcast"] is True
    assert msg["history"] == [{"text": "new request", "blocks": [section("*Jane*")]}]
    assert [m["ts"] for m in fake.thread("C1", root["ts"])] == [
        root["ts"],
        reply["ts"],
        broadcast["ts"],
    ]
    assert fake.message("C1", reply["ts"])["thread_ts"] == root["ts"]
    assert [p["method"] for p in fake.all_posted()] == ["chat.postMessage"] * 3 + ["chat.update"]
    assert len(fake.calls_to("chat.postMessage")) == 3

    link = client.chat_getPermalink(channel="C1", message_ts=reply["ts"])["permalink"]
    assert f"thread_ts={root['ts']}" in link


def test_form_encoded_blocks_and_missing_fallback_text(fake: FakeSlack, client: WebClient) -> None:
    # api_call(params=...) sends a form body: blocks arrive as a JSON string.
    resp = client.api_call(
        "chat.postMessage", params={"channel": "C1", "blocks": json.dumps([section("x")])}
    )
    msg = fake.message("C1", resp["ts"])
    assert msg["blocks"] == [section("x")]
    assert msg["has_fallback_text"] is False
    assert fake.calls_to("chat.postMessage")[0]["blocks"] == [section("x")]


def test_thread_ts_of_a_reply_is_rejected(fake: FakeSlack, client: WebClient) -> None:
    root = client.chat_postMessage(channel="C1", text="root")
    reply = client.chat_postMessage(channel="C1", text="reply", thread_ts=root["ts"])
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="nested", thread_ts=reply["ts"])
    assert error_of(exc) == "thread_not_found"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C2", text="other channel", thread_ts=root["ts"])
    assert error_of(exc) == "thread_not_found"
    assert len(fake.thread("C1", root["ts"])) == 2


def test_message_validation(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x", blocks=[section("b")] * 51)
    assert error_of(exc) == "invalid_blocks"
    client.chat_postMessage(channel="C1", text="x", blocks=[section("b")] * 50)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x", blocks=[section("a" * 3001)])
    assert error_of(exc) == "invalid_blocks"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="a" * 40001)
    assert error_of(exc) == "msg_too_long"
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.postMessage", json={"channel": "C1"})
    assert error_of(exc) == "no_text"
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C1", ts="1.000001", text="x")
    assert error_of(exc) == "message_not_found"


def test_ephemeral(fake: FakeSlack, client: WebClient) -> None:
    resp = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert resp["message_ts"]
    assert fake.ephemerals == [
        {
            "channel": "C1",
            "user": "U1",
            "ts": resp["message_ts"],
            "text": "only you",
            "has_fallback_text": True,
            "thread_ts": None,
        }
    ]
    assert fake.messages("C1") == []
    assert fake.all_posted()[0]["method"] == "chat.postEphemeral"


def test_conversations_open_and_users_info(fake: FakeSlack, client: WebClient) -> None:
    assert client.conversations_open(users="U1")["channel"]["id"] == "DU1"
    assert client.conversations_open(users=["U1"])["channel"]["id"] == "DU1"
    fake.add_user("U1", is_admin=True, tz="America/New_York", name="bob", real_name="Bob B")
    user = client.users_info(user="U1")["user"]
    assert user["id"] == "U1"
    assert user["name"] == "bob"
    assert user["is_admin"] is True and user["is_owner"] is False
    assert user["tz"] == "America/New_York"
    assert user["tz_offset"] in (-18000, -14400)
    assert user["profile"]["real_name"] == "Bob B"
    assert user["profile"]["display_name"] == "bob"
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="UNOBODY")
    assert error_of(exc) == "user_not_found"


def test_views_open_trigger_rules(
    fake: FakeSlack, client: WebClient, fake_clock: ManualClock
) -> None:
    trigger = fake.issue_trigger_id()
    view = client.views_open(trigger_id=trigger, view=modal())["view"]
    assert view["id"].startswith("V") and view["hash"]
    assert view["callback_id"] == "ask" and view["private_metadata"] == "req-1"

    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=trigger, view=modal())
    assert error_of(exc) == "invalid_trigger_id"
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id="never-issued", view=modal())
    assert error_of(exc) == "invalid_trigger_id"

    late = fake.issue_trigger_id()
    fake_clock.advance(3.5)
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=late, view=modal())
    assert error_of(exc) == "expired_trigger_id"

    in_time = fake.issue_trigger_id()
    fake_clock.advance(2.9)
    pushed = client.views_push(trigger_id=in_time, view=modal("Step 2"))["view"]

    updated = client.views_update(view_id=view["id"], view=modal("Updated"))["view"]
    assert updated["id"] == view["id"] and updated["hash"] != view["hash"]
    assert [(v["action"], v["title"]["text"]) for v in fake.views] == [
        ("open", "Ask for a review"),
        ("push", "Step 2"),
        ("update", "Updated"),
    ]
    assert fake.view(pushed["id"])["title"]["text"] == "Step 2"


def test_view_validation(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=fake.issue_trigger_id(), view=modal("x" * 25))
    assert error_of(exc) == "invalid_arguments"
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=fake.issue_trigger_id(), view=modal(n_blocks=101))
    assert error_of(exc) == "invalid_arguments"
    client.views_open(trigger_id=fake.issue_trigger_id(), view=modal("x" * 24, n_blocks=100))
    with pytest.raises(SlackApiError) as exc:
        client.views_update(view_id="VNOPE", view=modal())
    assert error_of(exc) == "not_found"
    assert len(fake.views) == 1


def test_views_publish(fake: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("Welcome")]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    second = client.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    assert first["id"] == second["id"]
    assert fake.home_views["U1"]["blocks"] == []
    with pytest.raises(SlackApiError) as exc:
        client.views_publish(user_id="U1", view={"type": "home", "blocks": [section("b")] * 101})
    assert error_of(exc) == "invalid_arguments"
    assert fake.views == []


def test_files_upload_v2(fake: FakeSlack, client: WebClient) -> None:
    resp = client.files_upload_v2(
        content=b"name,phone\nJane,+33612345678\n",
        filename="export.csv",
        title="Export",
        channel="C1",
        initial_comment="here you go",
    )
    file_id = resp["file"]["id"]
    assert file_id.startswith("F")
    stored = fake.files[file_id]
    assert stored["content"] == b"name,phone\nJane,+33612345678\n"
    assert stored["filename"] == "export.csv"
    assert stored["title"] == "Export"
    assert stored["channel_id"] == "C1"
    assert stored["initial_comment"] == "here you go"

    url = client.files_getUploadURLExternal(filename="a.txt", length=1)
    with pytest.raises(SlackApiError) as exc:  # never uploaded
        client.files_completeUploadExternal(files=[{"id": url["file_id"]}], channel_id="C1")
    assert error_of(exc) == "file_not_found"


def test_response_url(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    assert url.startswith(fake.base_url + "/response/")
    resp = WebhookClient(url, timeout=5).send(text="done", replace_original=True)
    assert resp.status_code == 200 and resp.body == "ok"
    assert fake.responses == [{"text": "done", "replace_original": True, "url": url}]
    assert (
        WebhookClient(fake.base_url + "/response/nope", timeout=5).send(text="x").status_code == 404
    )


def test_rate_limited_raises_with_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="hi")
    assert exc.value.response.status_code == 429
    assert error_of(exc) == "ratelimited"
    assert exc.value.response.headers["Retry-After"] == "7"
    assert fake.messages("C1") == []
    client.chat_postMessage(channel="C1", text="hi")
    assert len(fake.messages("C1")) == 1


def test_rate_limit_retry_handler_retries(fake: FakeSlack) -> None:
    client = WebClient(token=fake.bot_token, base_url=fake.api_url, timeout=5)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    resp = client.chat_postMessage(channel="C1", text="hi")
    assert resp["ok"] is True
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert len(fake.messages("C1")) == 1


def test_server_error_and_injected_error(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="hi")
    assert exc.value.response.status_code == 500
    fake.fail_next("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="C1", text="hi")
        assert exc.value.response.status_code == 200
        assert error_of(exc) == "channel_not_found"
    client.chat_postMessage(channel="C1", text="hi")
    assert len(fake.messages("C1")) == 1


def test_wait_for(fake: FakeSlack, client: WebClient) -> None:
    assert fake.wait_for(lambda: False, timeout=0.05) is False
    worker = threading.Thread(target=client.chat_postMessage, kwargs={"channel": "C9", "text": "x"})
    worker.start()
    assert fake.wait_for(lambda: len(fake.messages("C9")) == 1, timeout=5)
    worker.join(5)
