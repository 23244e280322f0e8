"""The REST API v1 end to end over HTTP against the real server: keys, every route, problems,
another workspace's key, revoked keys, bad fields and idempotent retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from openapi_spec_validator import validate
from sqlmodel import col, func, select

from bot.clock import FrozenClock
from bot.domain.errors import InvalidInput
from bot.usecases.history import Cursor
from bot.usecases.inputs import RequestCreate
from bot.usecases.installs import InstalledBot, installs_for
from store.models import Audit, ReviewRequest
from tests.api_harness import PHONE, ApiServer, api_fixture, api_server  # noqa: F401
from tests.helpers import ALICE

PROBLEM = "application/problem+json"


def stored(api: ApiServer) -> int:
    with api.app.db.read() as session:
        return session.exec(select(func.count()).select_from(ReviewRequest)).one()


def test_create_answers_201_with_number_status_and_due_time(api: ApiServer) -> None:
    response = api.post(
        "/api/v1/requests",
        json={"name": "Jane Doe", "phone": PHONE, "reference": "A-1042", "delay": "2h"},
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/requests/1"
    body = response.json()
    assert body["number"] == 1 and body["status"] == "queued"
    assert body["due_at"] == "2026-11-23T12:00:00Z"  # the clock's 10:00 + 2h
    assert body["phone"] == "+33612345678" and body["reference"] == "A-1042"
    assert body["waiting"] == ["queued"]
    # Attributed to the key, in the request and its history.
    assert body["origin"] == "api" and body["created_by"] == f"api:{api.key_id}"
    shown = api.get("/api/v1/requests/1").json()
    assert shown["events"][0] == {
        "kind": "created",
        "at": "2026-11-23T10:00:00Z",
        "actor": 'API key "zapier"',
    }
    assert [m["status"] for m in shown["messages"]] == ["queued"]


def test_send_at_is_read_like_the_cli_in_the_workspace_timezone(api: ApiServer) -> None:
    body = api.create(send_at="2026-11-24T09:30:00+01:00")
    assert body["due_at"] == "2026-11-24T08:30:00Z"


@pytest.mark.parametrize(
    ("fields", "field", "detail"),
    [
        ({"name": "x" * 101}, "name", "name: at most 100 characters (got 101)"),
        ({"phone": "12"}, "phone", "'12' is not a valid phone number for FR."),
        ({"method": "fax"}, "method", None),
        ({"type": "gift"}, "type", None),
        ({"color": "red"}, "color", None),
        ({"delay": "soon"}, "delay", "'soon' is not a delay: write it like 30m, 2h, 1d or 7d."),
        ({"delay": "1h", "send_at": "tomorrow"}, "send_at", None),
        ({"send_at": "2020-01-01T10:00:00Z"}, "send_at", "That time has already passed."),
    ],
)
def test_a_bad_field_is_a_422_problem_naming_it_and_nothing_is_stored(
    api: ApiServer, fields: dict[str, object], field: str, detail: str | None
) -> None:
    response = api.post("/api/v1/requests", json={"name": "Jane", "phone": PHONE, **fields})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Invalid input"
    assert [e["field"] for e in problem["errors"]] == [field]
    if detail is not None:
        assert problem["errors"][0]["detail"] == detail
    assert stored(api) == 0


def test_field_errors_are_the_words_of_the_input_model(api: ApiServer) -> None:
    # The same rule and words as Slack's form and the CLI: the one input model.
    with pytest.raises(InvalidInput) as raised:
        RequestCreate(name="x" * 500, reference="r" * 101)
    problem = api.post(
        "/api/v1/requests", json={"name": "x" * 500, "reference": "r" * 101, "phone": PHONE}
    ).json()
    assert {e["field"]: e["detail"] for e in problem["errors"]} == raised.value.errors


def test_the_consent_rule_applies_to_the_api(api: ApiServer) -> None:
    policy = api.app.ops.policy(api.ws).model_copy(update={"require_consent": True})
    api.app.ops.update_policy(api.ws, policy, ALICE)
    refused = api.post("/api/v1/requests", json={"name": "Jane", "phone": PHONE})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "consent"
    assert stored(api) == 0
    assert api.create(consent=True)["number"] == 1
    with api.app.db.read() as session:
        request = session.exec(select(ReviewRequest)).one()
    assert request.consent_by == f"api:{api.key_id}" and request.origin == "api"


def test_json_types_are_taken_as_they_are(api: ApiServer) -> None:
    response = api.post(
        "/api/v1/requests", json={"name": "Jane", "phone": PHONE, "override_cooldown": "yes"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "override_cooldown"
    assert stored(api) == 0


def test_a_body_that_is_not_a_json_object_is_a_400_problem(api: ApiServer) -> None:
    for data in (b"{not json", b"[1, 2]", b"", b"[" * 5000 + b"]" * 5000):
        response = api.post(
            "/api/v1/requests", data=data, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, data[:10]
        assert response.headers["Content-Type"] == PROBLEM
    assert stored(api) == 0


def test_a_body_over_the_api_limit_is_refused_before_it_is_read(api: ApiServer) -> None:
    response = api.post("/api/v1/requests", json={"name": "x" * 40_000, "phone": PHONE})
    assert response.status_code == 413 and response.headers["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "body too large",
    }
    assert stored(api) == 0


def test_the_cooldown_is_a_409_that_override_cooldown_passes(
    database_url: str, clock: FrozenClock
) -> None:
    with api_server(database_url, clock) as api:
        api.app.ops.update_policy(
            api.ws, api.app.ops.policy(api.ws).model_copy(update={"cooldown_days": 30}), ALICE
        )
        api.create()
        response = api.post("/api/v1/requests", json={"name": "Jane", "phone": PHONE})
        assert response.status_code == 409 and response.headers["Content-Type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "phone"
        assert stored(api) == 1
        assert api.create(override_cooldown=True)["number"] == 2


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer rvo_unknown", "Bearer " + "x" * 5000],
)
def test_without_a_valid_key_every_route_is_401(api: ApiServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [
        ("GET", "/api/v1/requests"),
        ("POST", "/api/v1/requests"),
        ("GET", "/api/v1/requests/1"),
        ("POST", "/api/v1/requests/1/cancel"),
        ("GET", "/api/v1/stats"),
    ]:
        response = api.call(method, path, secret="", headers=headers, json={"name": "J"})
        assert response.status_code == 401, (method, path)
        assert response.headers["Content-Type"] == PROBLEM
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored(api) == 0


def test_a_revoked_key_is_refused_at_once(api: ApiServer) -> None:
    api.create()
    api.app.ops.api_keys.revoke(api.ws, api.key_id, ALICE.as_admin())
    response = api.get("/api/v1/requests/1")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert api.post("/api/v1/requests", json={"name": "J", "phone": PHONE}).status_code == 401
    assert stored(api) == 1


def test_another_workspaces_key_sees_nothing_of_this_one(api: ApiServer) -> None:
    api.create()
    theirs = api.other_secret
    for method, path in [
        ("GET", "/api/v1/requests/1"),
        ("POST", "/api/v1/requests/1/pause"),
        ("POST", "/api/v1/requests/1/cancel"),
    ]:
        response = api.call(method, path, secret=theirs)
        assert response.status_code == 404 and response.headers["Content-Type"] == PROBLEM
    assert api.get("/api/v1/requests", secret=theirs).json()["data"] == []
    assert api.get("/api/v1/stats", secret=theirs).json()["waiting"] == 0
    # Still queued: the other workspace's cancel changed nothing.
    assert api.get("/api/v1/requests/1").json()["status"] == "queued"


def test_last_use_is_written_at_most_once_a_minute(api: ApiServer) -> None:
    def last_used() -> object:
        [key] = [k for k in api.app.ops.api_keys.list(api.ws) if k.id == api.key_id]
        return key.last_used_at

    assert last_used() is None
    api.get("/api/v1/stats")
    first = api.clock.now()
    assert last_used() == first
    api.clock.advance(timedelta(seconds=30))
    api.get("/api/v1/stats")
    assert last_used() == first
    api.clock.advance(timedelta(seconds=31))
    api.get("/api/v1/stats")
    assert last_used() == api.clock.now()


def test_over_its_rate_a_key_gets_429_with_retry_after(
    database_url: str, clock: FrozenClock
) -> None:
    with api_server(database_url, clock, API_BURST=2, API_RATE_PER_MINUTE=6) as api:
        assert api.get("/api/v1/stats").status_code == 200
        assert api.get("/api/v1/stats").status_code == 200
        response = api.post("/api/v1/requests", json={"name": "J", "phone": PHONE})
        assert response.status_code == 429 and response.headers["Content-Type"] == PROBLEM
        assert response.headers["Retry-After"] == "10"  # one call per 10 s
        assert stored(api) == 0
        # Another key has its own bucket.
        assert api.get("/api/v1/stats", secret=api.other_secret).status_code == 200
        api.clock.advance(timedelta(seconds=10))
        assert api.get("/api/v1/stats").status_code == 200
        assert api.get("/api/v1/stats").status_code == 429


def test_keys_are_audited_and_stored_only_as_hashes(api: ApiServer) -> None:
    made = api.app.ops.api_keys.create(api.ws, "  make   ", ALICE.as_admin())
    assert made.key.name == "make" and made.secret.startswith("rvo_")
    api.app.ops.api_keys.revoke(api.ws, made.key.id or 0, ALICE.as_admin())
    with api.app.db.read() as session:
        rows = session.exec(
            select(Audit).where(Audit.workspace_id == api.ws).order_by(col(Audit.id))
        ).all()
        dump = repr([k.model_dump() for k in api.app.ops.api_keys.list(api.ws)])
    actions = [(r.action, r.detail["name"]) for r in rows if r.action.startswith("apikey")]
    assert actions == [
        ("apikey_create", "zapier"),
        ("apikey_create", "make"),
        ("apikey_revoke", "make"),
    ]
    assert made.secret not in dump and made.secret[10:] not in repr([r.detail for r in rows])


# --- idempotency --------------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_get_the_first_answer(api: ApiServer) -> None:
    body = {"name": "Jane Doe", "phone": PHONE, "delay": "1d"}
    headers = {"Idempotency-Key": "order-1042"}
    first = api.post("/api/v1/requests", json=body, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    api.clock.advance(timedelta(hours=23))  # kept for at least a day
    again = api.post(
        "/api/v1/requests", json=dict(reversed(body.items())), headers=headers
    )  # same body, fields in another order
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == "/api/v1/requests/1"
    assert stored(api) == 1


def test_an_idempotency_key_is_forgotten_after_a_day_and_more(api: ApiServer) -> None:
    headers = {"Idempotency-Key": "daily"}
    body = {"name": "Jane", "phone": PHONE}
    assert api.post("/api/v1/requests", json=body, headers=headers).json()["number"] == 1
    api.clock.advance(timedelta(hours=26))
    again = api.post("/api/v1/requests", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["number"] == 2
    assert "Idempotent-Replayed" not in again.headers


def test_the_same_idempotency_key_with_another_body_is_409(api: ApiServer) -> None:
    headers = {"Idempotency-Key": "order-1042"}
    assert (
        api.post(
            "/api/v1/requests", json={"name": "Jane", "phone": PHONE}, headers=headers
        ).status_code
        == 201
    )
    response = api.post("/api/v1/requests", json={"name": "John", "phone": PHONE}, headers=headers)
    assert response.status_code == 409 and response.headers["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert stored(api) == 1


def test_idempotency_keys_are_per_api_key_and_a_new_key_creates(api: ApiServer) -> None:
    body = {"name": "Jane", "phone": PHONE}
    one = api.post("/api/v1/requests", json=body, headers={"Idempotency-Key": "k1"})
    two = api.post("/api/v1/requests", json=body, headers={"Idempotency-Key": "k2"})
    theirs = api.post(
        "/api/v1/requests", json=body, headers={"Idempotency-Key": "k1"}, secret=api.other_secret
    )
    assert (one.json()["number"], two.json()["number"], theirs.json()["number"]) == (1, 2, 1)
    assert stored(api) == 3


def test_a_bad_idempotency_key_is_422(api: ApiServer) -> None:
    for key in ("x" * 101, "two words", "é"):
        response = api.post(
            "/api/v1/requests",
            json={"name": "Jane", "phone": PHONE},
            headers={"Idempotency-Key": key.encode().decode("latin-1")},
        )
        assert response.status_code == 422, key
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert stored(api) == 0


def test_an_answer_lost_before_it_was_kept_is_rebuilt_from_the_request(api: ApiServer) -> None:
    # A call of an older version took the key, created the request, then its process died
    # before keeping the answer.
    from bot.usecases.idempotency import creation_key
    from bot.usecases.inputs import RequestCreate as Create
    from tests.api_harness import key_taken_before_creating

    holder = api.app.ops.api_keys.holder(api.secret)
    assert holder is not None
    key_taken_before_creating(api, "lost", {"name": "Jane", "phone": PHONE})
    api.app.ops.create(
        api.ws,
        Create(name="Jane", phone=PHONE, origin="api"),
        holder.actor,
        key=creation_key(api.key_id, "lost"),
    )
    response = api.post(
        "/api/v1/requests",
        json={"name": "Jane", "phone": PHONE},
        headers={"Idempotency-Key": "lost"},
    )
    assert response.status_code == 201 and response.json()["number"] == 1
    assert stored(api) == 1


# --- list, show, pause/resume/cancel, stats -----------------------------------------------------


def test_the_list_filters_searches_and_pages_by_cursor(api: ApiServer) -> None:
    for n in range(5):
        api.create(name=f"Customer {n}", phone=f"+33 6 12 34 56 7{n}")
        api.clock.advance(timedelta(minutes=1))
    api.create(name="Zoe Smith", email="zoe@example.com", method="email")
    api.post("/api/v1/requests/2/cancel")
    page = api.get("/api/v1/requests", params={"limit": 2}).json()
    assert [r["number"] for r in page["data"]] == [6, 5]
    seen = [r["number"] for r in page["data"]]
    while page["next_cursor"]:
        page = api.get(
            "/api/v1/requests", params={"limit": 2, "cursor": page["next_cursor"]}
        ).json()
        seen += [r["number"] for r in page["data"]]
    assert seen == [6, 5, 4, 3, 2, 1]
    assert [
        r["number"] for r in api.get("/api/v1/requests", params={"q": "zoe"}).json()["data"]
    ] == [6]
    canceled = api.get("/api/v1/requests", params={"status": "canceled"}).json()
    assert [r["number"] for r in canceled["data"]] == [2]
    both = api.get("/api/v1/requests", params=[("status", "canceled"), ("status", "queued")])
    assert len(both.json()["data"]) == 6
    assert [
        r["number"] for r in api.get("/api/v1/requests", params={"via": "email"}).json()["data"]
    ] == [6]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"status": "lost"}, "status"),
        ({"via": "fax"}, "via"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": Cursor(datetime(2026, 1, 1), 1).encode()}, "cursor"),  # noqa: DTZ001
        ({"cursor": Cursor(datetime(2026, 1, 1, tzinfo=UTC), 10**20).encode()}, "cursor"),
        ({"created_from": "2026-11-30", "created_to": "2026-11-01"}, "created_to"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"colour": "red"}, "colour"),
        ({"q": "x" * 201}, "q"),
        # A NUL once ended SQLite's full-text query early: a 500 where a 422 belongs.
        ({"q": "jane\x00"}, "q"),
        ({"q": "\x97jane"}, "q"),
        ({"reference": "A-1\x00"}, "reference"),
        ({"sender": "U1\x00"}, "sender"),
    ],
)
def test_a_bad_list_filter_is_a_422_naming_it(
    api: ApiServer, params: dict[str, object], field: str
) -> None:
    response = api.get("/api/v1/requests", params=params)
    assert response.status_code == 422 and response.headers["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_pause_resume_and_cancel_change_the_request(api: ApiServer) -> None:
    api.create(delay="1d")
    paused = api.post("/api/v1/requests/1/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert api.post("/api/v1/requests/1/resume").json()["status"] == "queued"
    assert api.post("/api/v1/requests/1/cancel").json()["status"] == "canceled"
    again = api.post("/api/v1/requests/1/resume")
    assert again.status_code == 409 and again.headers["Content-Type"] == PROBLEM
    events = [e["actor"] for e in api.get("/api/v1/requests/1").json()["events"]]
    assert set(events) == {'API key "zapier"'}
    for number in (2, 99999999999999):
        assert api.get(f"/api/v1/requests/{number}").status_code == 404
        assert api.post(f"/api/v1/requests/{number}/pause").status_code == 404


def test_stats_count_what_was_sent_in_the_period(api: ApiServer) -> None:
    api.create()
    api.create(name="John", phone="+33 6 12 34 56 79", delay="1d")
    api.app.dispatcher.run_until_idle()
    stats = api.get("/api/v1/stats").json()
    assert stats["overall"]["sent"] == 1 and stats["waiting"] == 1
    assert stats["by_sender"][0]["name"] == 'API key "zapier"'
    before = {"from": "2026-11-01", "to": "2026-11-22"}  # the day before the clock's
    assert api.get("/api/v1/stats", params=before).json()["overall"]["sent"] == 0
    assert api.get("/api/v1/stats", params={"days": 30}).json()["overall"]["sent"] == 1
    for params, field in [
        ({"from": "2026-11-24", "to": "2026-11-01"}, "to"),
        ({"from": "2026-11-01", "days": 3}, "days"),
        ({"to": "2026-11-01"}, "from"),
        ({"days": 0}, "days"),
        ({"from": "0"}, "from"),
        ({"from": "2099-01-01"}, "from"),  # in the future: the same rule as Slack and the CLI
        ({"from": "0900-01-01"}, "from"),
    ]:
        bad = api.get("/api/v1/stats", params=params)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field, params


def test_unknown_api_routes_and_methods_are_problems(api: ApiServer) -> None:
    missing = api.get("/api/v2/requests")
    assert missing.status_code == 404 and missing.headers["Content-Type"] == PROBLEM
    wrong = api.call("DELETE", "/api/v1/requests/1")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    assert api.get("/nothing-here", secret="").headers["Content-Type"].startswith("text/html")


def test_the_openapi_document_describes_every_route(api: ApiServer) -> None:
    doc = api.get("/api/openapi.json", secret="").json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/api/v1/requests",
        "/api/v1/requests/{number}",
        "/api/v1/requests/{number}/pause",
        "/api/v1/requests/{number}/resume",
        "/api/v1/requests/{number}/cancel",
        "/api/v1/stats",
    }
    validate(doc)  # a valid OpenAPI 3.1 document (openapi-spec-validator)
    # Generated from the input model: its limits are the columns'.
    fields = doc["components"]["schemas"]["RequestIn"]["properties"]
    assert {"maxLength": 100, "type": "string"} in fields["name"]["anyOf"]


def test_the_search_text_never_reaches_the_access_log() -> None:
    from bot.log_redaction import redact_url

    line = 'GET /api/v1/requests?limit=5&q=jane%40example.com&status=failed HTTP/1.1" 200'
    assert redact_url(line) == (
        'GET /api/v1/requests?limit=5&q=[redacted]&status=failed HTTP/1.1" 200'
    )


def test_copies_sent_at_the_same_moment_create_one_request(api: ApiServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = {"name": "Jane", "phone": PHONE}

    def send(_: int) -> tuple[int, int]:
        response = api.post("/api/v1/requests", json=body, headers={"Idempotency-Key": "same"})
        return response.status_code, response.json().get("number", 0)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))
    assert answers == [(201, 1)] * 6
    assert stored(api) == 1


def test_a_key_stops_working_when_its_workspace_uninstalls_the_app(
    database_url: str, clock: FrozenClock
) -> None:
    """With OAuth installs, a workspace that uninstalled reviewops (Slack's app_uninstalled or
    tokens_revoked) is no longer served: its keys are refused until it installs again."""
    oauth = {
        "SLACK_CLIENT_ID": "1.2",
        "SLACK_CLIENT_SECRET": "client-secret",
        "TOKEN_ENCRYPTION_KEYS": "YPV-nQf-aJynicVHzupSJivuceoI2aS_qRLaUxqEB1g=",
    }
    with api_server(database_url, clock, **oauth) as api:
        installs = installs_for(api.app.ops, api.app.settings.token_keys())
        bot = InstalledBot("T0001", "Acme", "xoxb-acme", "U0BOT")
        installs.installed(bot)
        assert api.get("/api/v1/requests").status_code == 200

        installs.revoked("T0001", "app_uninstalled")
        refused = api.get("/api/v1/requests")
        assert refused.status_code == 401
        assert "uninstalled reviewops" in refused.json()["detail"]
        assert api.post("/api/v1/requests", json={"name": "Jo", "phone": PHONE}).status_code == 401
        assert stored(api) == 0

        installs.installed(bot)  # installed again: the same key works again
        assert api.get("/api/v1/requests").status_code == 200
