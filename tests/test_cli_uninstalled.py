"""The CLI on an OAuth workspace that uninstalled reviewops: nothing goes out for it (as its API
keys are refused), while its data can still be read, exported, paused and canceled."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import create_app
from bot.settings import Settings
from bot.usecases.installs import InstalledBot, installs_for
from tests.helpers import cli_invoker

OAUTH = {
    "SLACK_CLIENT_ID": "1.2",
    "SLACK_CLIENT_SECRET": "client-secret",
    "TOKEN_ENCRYPTION_KEYS": "YPV-nQf-aJynicVHzupSJivuceoI2aS_qRLaUxqEB1g=",
}
PHONE = "+33 6 10 20 30 40"


def test_nothing_is_sent_for_an_uninstalled_workspace_until_it_installs_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in OAUTH.items():
        monkeypatch.setenv(name, value)
    cli = cli_invoker(database_url, monkeypatch, tmp_path)
    app = create_app(Settings(_env_file=None, DATABASE_URL=database_url, **OAUTH))
    try:
        installs = installs_for(app.ops, app.settings.token_keys())
        bot = InstalledBot("T0001", "Acme", "xoxb-acme", "U0BOT")
        installs.installed(bot)
        made = cli("send", "Jane", "--phone", PHONE, "--in", "2h", "--workspace", "T0001")
        assert made.exit_code == 0, made.output

        installs.revoked("T0001", "app_uninstalled")
        for refused in (
            cli("send", "Bob", "--phone", "+33 6 12 34 56 78", "--workspace", "T0001"),
            cli("resume", "1", "--workspace", "T0001"),
            cli("apikey", "create", "shop", "--workspace", "T0001"),
        ):
            assert refused.exit_code == 2, refused.output
            assert "T0001 has uninstalled reviewops" in refused.output
        listed = cli("list", "--workspace", "T0001")
        assert listed.exit_code == 0 and "Jane" in listed.output
        assert cli("cancel", "1", "--workspace", "T0001").exit_code == 0

        installs.installed(bot)  # installed again: it may send again
        again = cli(
            "send", "Bob", "--phone", "+33 6 12 34 56 78", "--in", "2h", "--workspace", "T0001"
        )
        assert again.exit_code == 0, again.output
    finally:
        app.close()
