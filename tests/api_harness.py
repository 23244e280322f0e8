"""The real app (create_app, create_flask) served over HTTP on 127.0.0.1, with API keys of two
workspaces, for the REST API's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from bot.app import ReviewOpsApp, create_app
from bot.clock import FrozenClock
from bot.domain.policy import WorkspacePolicy
from bot.server import create_flask
from bot.settings import Settings
from bot.usecases.idempotency import body_hash
from store import api_keys as key_store
from tests.helpers import ALICE
from tests.test_webhooks_twilio import serving

PHONE = "+33 6 12 34 56 78"


@dataclass
class ApiServer:
    url: str
    app: ReviewOpsApp
    clock: FrozenClock
    ws: int  # workspace T0001
    other_ws: int  # workspace T0002
    key_id: int
    secret: str  # T0001's key
    other_secret: str  # T0002's key

    def call(
        self,
        method: str,
        path: str,
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Call the API with T0001's key (or `secret`; "" sends no Authorization)."""
        sent = dict(headers or {})
        key = self.secret if secret is None else secret
        if key:
            sent["Authorization"] = f"Bearer {key}"
        return requests.request(method, self.url + path, headers=sent, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def create(self, **fields: Any) -> dict[str, Any]:
        response = self.post(
            "/api/v1/requests", json={"name": "Jane Doe", "phone": PHONE, **fields}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def key_taken_before_creating(api: ApiServer, key: str, body: dict[str, Any]) -> None:
    """The row a call of an older version left: it took the Idempotency-Key for its body
    (answer in progress) before creating, then stopped (a rolling upgrade meets such rows)."""
    with api.app.db.write() as session:
        assert key_store.keep_answer(
            session,
            api_key_id=api.key_id,
            key=key,
            body_hash=body_hash(body),
            status_code=key_store.IN_PROGRESS,
            response={},
            now=api.clock.now(),
        )


def _workspace(app: ReviewOpsApp, team_id: str, **policy: Any) -> int:
    workspace = app.ops.ensure_workspace(team_id, "Acme")
    assert workspace.id is not None
    base = WorkspacePolicy.model_validate(workspace.policy)
    values = {"business_name": "Acme", "region": "FR", "send_window": "always", **policy}
    app.ops.update_policy(
        workspace.id, WorkspacePolicy.model_validate({**base.model_dump(), **values}), ALICE
    )
    return workspace.id


@contextmanager
def api_server(database_url: str, clock: FrozenClock, **env: Any) -> Iterator[ApiServer]:
    """Serve the real app; T0001 and T0002 each get a key made by an admin."""
    with serving() as (url, late):
        settings = Settings(
            _env_file=None,
            DATABASE_URL=database_url,
            PUBLIC_URL=url,
            DEFAULT_REGION="FR",
            **env,
        )
        app = create_app(settings, clock=clock)
        late.wsgi = create_flask(app).wsgi_app
        ws = _workspace(app, "T0001", cooldown_days=0)
        other = _workspace(app, "T0002", cooldown_days=0)
        made = app.ops.api_keys.create(ws, "zapier", ALICE.as_admin())
        theirs = app.ops.api_keys.create(other, "theirs", ALICE.as_admin())
        assert made.key.id is not None
        try:
            yield ApiServer(url, app, clock, ws, other, made.key.id, made.secret, theirs.secret)
        finally:
            app.close()


@pytest.fixture(name="api")
def api_fixture(database_url: str, clock: FrozenClock) -> Iterator[ApiServer]:
    with api_server(database_url, clock) as served:
        yield served
