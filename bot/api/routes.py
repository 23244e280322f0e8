"""The REST API v1 routes: each checks the key and its rate, reads its input into a model,
calls one use-case through `ReviewOps` or the read path, and answers JSON.

Refusals are raised (`ApiProblem`, `DomainError`) and become problem documents in
`bot/api/__init__.py`; nothing here phrases a rule of its own.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request
from flask import json as flask_json

from bot.api.auth import REFUSED, RateLimiter, key_holder
from bot.api.models import (
    ListQuery,
    RequestDetailOut,
    RequestIn,
    RequestOut,
    RequestPage,
    StatsOut,
    StatsQuery,
)
from bot.api.problems import LIST_FIELDS, ApiProblem, invalid
from bot.app import ReviewOpsApp
from bot.domain.errors import DomainError, InvalidInput
from bot.usecases import history
from bot.usecases.api_keys import KeyHolder
from bot.usecases.idempotency import (
    InProgress,
    Keep,
    KeptAnswer,
    Replayed,
    body_hash,
    creation_key,
)
from bot.usecases.once import AlreadyCreated
from store.integration_models import IDEMPOTENCY_KEY_MAX
from store.models import ReviewRequest

MAX_NUMBER = 2**31 - 1  # request numbers are 32-bit: a larger one names no request
ACTIONS = ("pause", "resume", "cancel")
IDEMPOTENCY_KEY = "Idempotency-Key"


def answer(body: Any, status: int = 200, **headers: str) -> Response:
    """Answer JSON with optional headers."""
    response = Response(flask_json.dumps(body), status=status, mimetype="application/json")
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def json_object() -> dict[str, Any]:
    """Read the body as a JSON object.

    :raise ApiProblem: 400, not JSON or not an object (the size is bounded by bot.http_limits).
    """
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        raise ApiProblem(400, "Bad Request", "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise ApiProblem(400, "Bad Request", "The body must be a JSON object.")
    return body


def idempotency_key() -> str | None:
    """Read the Idempotency-Key header, if sent.

    :raise ApiProblem: 422, empty, too long, or not printable ASCII.
    """
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not all(" " < c <= "~" for c in key):
        raise ApiProblem(
            422,
            "Invalid input",
            f"{IDEMPOTENCY_KEY}: 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters, "
            "like a UUID.",
            slug="invalid-input",
            errors={IDEMPOTENCY_KEY: f"1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters"},
        )
    return key


def query_values() -> dict[str, Any]:
    """Return the query string as a model reads it (`status` may repeat)."""
    values: dict[str, Any] = {key: request.args.get(key) for key in request.args}
    if "status" in values:
        values["status"] = request.args.getlist("status")
    return values


def fresh_answer(created: ReviewRequest) -> dict[str, Any]:
    """The answer to a create: what waits is its first message, in the request's status."""
    return RequestOut.fresh(created).model_dump(mode="json")


def request_number(number: int) -> int:
    """:raise ApiProblem: 404, a number no request can have."""
    if not 1 <= number <= MAX_NUMBER:
        raise ApiProblem(404, "Not Found", f"There is no request #{number}.")
    return number


class Routes:
    """The routes bound to one wired app and its rate limiter."""

    def __init__(self, app: ReviewOpsApp) -> None:
        self.app = app
        self.ops = app.ops
        settings = app.settings
        self.oauth = settings.oauth_installs
        self.limiter = RateLimiter(
            per_minute=app.settings.api_rate_per_minute, burst=app.settings.api_burst
        )

    def caller(self) -> KeyHolder:
        """The key of this call, within its rate. :raise ApiProblem: 401 or 429."""
        holder = key_holder(request, self.ops.api_keys)
        if not self.ops.workspaces.serving(holder.workspace_id, oauth=self.oauth):
            raise ApiProblem(
                401,
                "Unauthorized",
                "This API key's workspace has uninstalled reviewops: reinstall it to use the API.",
                headers=REFUSED,
            )
        self.limiter.check(holder.key_id, self.app.clock.now())
        return holder

    def register(self, api: Blueprint) -> None:
        api.post("/v1/requests")(self.create)
        api.get("/v1/requests")(self.list_requests)
        api.get("/v1/requests/<int:number>")(self.show)
        for action in ACTIONS:
            api.post(f"/v1/requests/<int:number>/{action}", endpoint=action)(
                lambda number, action=action: self.change(number, action)
            )
        api.get("/v1/stats")(self.stats)

    def create(self) -> Response:
        holder = self.caller()
        body = json_object()
        key = idempotency_key()
        if key is None:
            return self._created(self._create(holder, body))
        digest = body_hash(body)
        keep = self.ops.idempotency.keeper(holder.key_id, key, digest, fresh_answer)
        try:
            created = self._create(holder, body, creation_key(holder.key_id, key), keep)
        except Replayed as exc:
            return self._replay(exc.kept)
        except AlreadyCreated as exc:
            # A call with this key created its request: its answer, or a 409 for another body.
            return self._copy(holder, key, digest, exc.number)
        except (DomainError, ApiProblem):
            # Refused, nothing created: a key answered before says so first (409 or its answer).
            if (kept := self.ops.idempotency.kept(holder.key_id, key, digest)) is not None:
                return self._replay(kept)
            raise
        return self._created(created, keep.body)

    def _create(
        self,
        holder: KeyHolder,
        body: dict[str, Any],
        once: str | None = None,
        keep: Keep | None = None,
    ) -> ReviewRequest:
        """Create the request; under a key, its answer is kept in the same transaction."""
        ws = holder.workspace_id
        data = RequestIn.model_validate(body)
        create = data.to_create(
            now=self.app.clock.now(), timezone=lambda: self.ops.policy(ws).timezone
        )
        return self.ops.create(ws, create, holder.actor, key=once, keep=keep)

    def _created(self, created: ReviewRequest, out: dict[str, Any] | None = None) -> Response:
        out = out or fresh_answer(created)
        return answer(out, 201, Location=f"/api/v1/requests/{out['number']}")

    def _copy(self, holder: KeyHolder, key: str, digest: str, number: int | None) -> Response:
        """Answer a call whose key already created request #number."""
        kept = self.ops.idempotency.kept(holder.key_id, key, digest)
        if kept is not None:
            return self._replay(kept)
        if number is None:
            raise InProgress(
                "A request with this Idempotency-Key is being created: retry in a second.",
                field=IDEMPOTENCY_KEY,
            )
        # Created by a call of an older version that died before keeping its answer.
        out = RequestOut.shown(self.ops.show(holder.workspace_id, number)).model_dump(mode="json")
        return answer(out, 201, Location=f"/api/v1/requests/{out['number']}")

    def _replay(self, kept: KeptAnswer) -> Response:
        headers = {"Idempotent-Replayed": "true"}
        number = kept.body.get("number")
        if kept.status_code == 201 and number is not None:
            headers["Location"] = f"/api/v1/requests/{number}"
        return answer(kept.body, kept.status_code, **headers)

    def list_requests(self) -> Response:
        holder = self.caller()
        query = ListQuery.model_validate(query_values())
        after = query.after()
        ws = holder.workspace_id
        policy = self.ops.policy(ws)
        try:
            f = history.history_filter(
                query.criteria(), timezone=policy.timezone, region=policy.region
            )
        except InvalidInput as exc:
            fields = exc.errors or {exc.field or "q": exc.message}
            raise invalid({LIST_FIELDS.get(k, k): v for k, v in fields.items()}) from None
        page = history.list_page(self.app.db, ws, f, after=after, limit=query.limit)
        out = RequestPage(
            data=[RequestOut.listed(row) for row in page.rows],
            next_cursor=page.next.encode() if page.next else None,
            counts=page.counts,
        )
        return answer(out.model_dump(mode="json"))

    def show(self, number: int) -> Response:
        holder = self.caller()
        detail = self.ops.show(holder.workspace_id, request_number(number))
        return answer(RequestDetailOut.of_detail(detail).model_dump(mode="json"))

    def change(self, number: int, action: str) -> Response:
        holder = self.caller()
        ws = holder.workspace_id
        self.ops.show(ws, request_number(number))  # another workspace's request: 404
        do = {"pause": self.ops.pause, "resume": self.ops.resume, "cancel": self.ops.cancel}
        result = do[action](ws, [number], holder.actor)
        if result.refused:
            _, reason = result.refused[0]
            raise ApiProblem(409, "Not allowed now", reason, slug="not-allowed")
        return answer(RequestOut.shown(self.ops.show(ws, number)).model_dump(mode="json"))

    def stats(self) -> Response:
        holder = self.caller()
        query = StatsQuery.model_validate(query_values())
        ws = holder.workspace_id
        start, end = query.period(now=self.app.clock.now(), timezone=self.ops.policy(ws).timezone)
        report = history.period_report(self.app.db, ws, start=start, end=end)
        s = report.stats
        out = StatsOut(
            start=s.start,
            end=s.end,
            waiting=report.waiting,
            overall=s.overall,
            by_channel=s.by_channel,
            by_sender=s.by_sender,
            sms_sent=s.sms_sent,
            sms_segments=s.sms_segments,
        )
        return answer(out.model_dump(mode="json"))
