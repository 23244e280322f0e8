"""The outbox's Slack clients: one WebClient per workspace token, without retry handlers."""

from __future__ import annotations

from slack_sdk import WebClient

from store import installations
from store.db import Database
from store.installations import TokenCipher


def slack_client(token: str | None, *, base_url: str = WebClient.BASE_URL) -> WebClient:
    """Build a WebClient for the outbox job: no retry handlers, the job retries by itself.

    slack_sdk's default handler resends a request whose connection broke, which can post a
    message twice; the outbox retries each row itself, after recording what happened.
    """
    return WebClient(token=token, base_url=base_url, retry_handlers=[])


class WorkspaceClients:
    """Give the outbox a WebClient per workspace: its installed bot token, else the default one."""

    def __init__(
        self,
        db: Database,
        *,
        base_url: str = WebClient.BASE_URL,
        default_token: str | None = None,
        cipher: TokenCipher | None = None,
    ) -> None:
        self.db = db
        self.cipher = cipher or TokenCipher([])  # installed tokens are sealed at rest
        self.base_url = base_url
        self.default_token = default_token
        self._clients: dict[str, WebClient] = {}

    def __call__(self, workspace_id: int) -> WebClient | None:
        with self.db.read() as session:
            installed = installations.bot_token(session, workspace_id, self.cipher)
        token = installed or self.default_token
        if not token:
            return None
        client = self._clients.get(token)
        if client is None:
            client = self._clients[token] = slack_client(token, base_url=self.base_url)
        return client
