"""Idempotency-Key races over HTTP against the real server: the call that creates keeps its
answer with its body's hash in the creating transaction, after taking the key first thing
there, so another body under that key is a 409 (waiting for the first call to finish); a call
that created nothing leaves the key free; only the call that created keeps its answer. Rows
an older version left (a key taken before creating, "in progress") are honoured."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from bot.usecases.idempotency import creation_key
from bot.usecases.inputs import RequestCreate
from store.models import ReviewRequest
from tests.api_harness import (  # noqa: F401
    PHONE,
    ApiServer,
    api_fixture,
    key_taken_before_creating,
)

JANE = {"name": "Jane", "phone": PHONE}
JOHN = {"name": "John", "phone": "+33 6 99 99 99 99"}
PROBLEM = "application/problem+json"


def names(api: ApiServer) -> list[str]:
    with api.app.db.read() as session:
        rows = session.exec(select(ReviewRequest).order_by(col(ReviewRequest.number))).all()
        return [r.customer_name for r in rows]


def first_call_created_but_not_answered(api: ApiServer, key: str, body: dict[str, Any]) -> None:
    """Copy A (an older version) took the key and created its request; no answer kept."""
    key_taken_before_creating(api, key, body)
    holder = api.app.ops.api_keys.holder(api.secret)
    assert holder is not None
    create = RequestCreate(name=body["name"], phone=body["phone"], origin="api")
    api.app.ops.create(api.ws, create, holder.actor, key=creation_key(api.key_id, key))


def test_another_body_under_a_key_still_being_created_is_409_not_the_first_request(
    api: ApiServer,
) -> None:
    first_call_created_but_not_answered(api, "k", JANE)
    other = api.post("/api/v1/requests", json=JOHN, headers={"Idempotency-Key": "k"})
    assert other.status_code == 409 and other.headers["Content-Type"] == PROBLEM
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    same = api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"})
    assert same.status_code == 201 and same.json()["number"] == 1
    assert names(api) == ["Jane"]


def test_a_refused_body_gives_its_key_back(api: ApiServer) -> None:
    bad = api.post(
        "/api/v1/requests", json={"name": "Jane", "phone": "nope"}, headers={"Idempotency-Key": "k"}
    )
    assert bad.status_code == 422
    good = api.post("/api/v1/requests", json=JOHN, headers={"Idempotency-Key": "k"})
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers
    assert names(api) == ["John"]


def test_a_call_that_died_before_creating_does_not_hold_its_key(api: ApiServer) -> None:
    # It took the key and stopped: a retry of its body creates and keeps the answer.
    key_taken_before_creating(api, "k", JANE)
    retry = api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"})
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    again = api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == retry.json()
    other = api.post("/api/v1/requests", json=JOHN, headers={"Idempotency-Key": "k"})
    assert other.status_code == 409
    assert names(api) == ["Jane"]


def test_two_bodies_racing_under_one_key_each_get_their_own_request_or_409(
    api: ApiServer,
) -> None:
    bodies = [JANE, JOHN] * 4

    def send(body: dict[str, Any]) -> tuple[str, int, int]:
        answer = api.post("/api/v1/requests", json=body, headers={"Idempotency-Key": "race"})
        return body["name"], answer.status_code, answer.json().get("number", 0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, bodies))
    (winner,) = names(api)
    for name, status, number in answers:
        assert (status, number) == ((201, 1) if name == winner else (409, 0)), answers


def test_a_refused_body_under_a_key_answered_before_is_409(api: ApiServer) -> None:
    assert api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"}).ok
    bad = api.post(
        "/api/v1/requests", json={"name": "Jane", "phone": "nope"}, headers={"Idempotency-Key": "k"}
    )
    assert bad.status_code == 409 and bad.json()["errors"][0]["field"] == "Idempotency-Key"
    # A body of the wrong shape (refused by the model itself) says so the same way.
    unknown = api.post(
        "/api/v1/requests", json={**JANE, "name": 5}, headers={"Idempotency-Key": "k"}
    )
    assert unknown.status_code == 409, unknown.text
    assert names(api) == ["Jane"]


def test_an_answer_kept_longer_than_its_creation_key_is_still_the_answer(api: ApiServer) -> None:
    # Creation keys are kept a day, answers 25 hours: in between the create runs again and
    # finds the kept answer as it ends, so it rolls back and replays it.
    first = api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"})
    api.clock.advance(timedelta(hours=24, minutes=30))
    again = api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    other = api.post("/api/v1/requests", json=JOHN, headers={"Idempotency-Key": "k"})
    assert other.status_code == 409
    assert names(api) == ["Jane"]


def test_a_forgotten_answer_not_yet_deleted_is_replaced_by_a_new_request(
    api: ApiServer,
) -> None:
    # Answers past 25 hours are deleted once a minute: a key used again in between creates.
    first = api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"})
    api.clock.advance(timedelta(hours=25, seconds=-30))
    assert api.post("/api/v1/requests", json=JOHN, headers={"Idempotency-Key": "k2"}).ok
    api.clock.advance(timedelta(seconds=40))  # "k" is forgotten now, the purge not due yet
    again = api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert (first.json()["number"], again.json()["number"]) == (1, 3)
    replay = api.post("/api/v1/requests", json=JANE, headers={"Idempotency-Key": "k"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == again.json()
