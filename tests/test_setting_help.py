"""Every setting has a meaning and its default in `settings set --help`, from one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.policy import SETTING_KEYS
from bot.domain.setting_help import MEANINGS, setting_help
from tests.helpers import cli_invoker


def test_every_setting_key_has_a_meaning() -> None:
    # A new setting fails here until it is described in bot/domain/setting_help.py.
    missing = [key for key in SETTING_KEYS if not MEANINGS.get(key, "").strip()]
    assert missing == []


def test_defaults_come_from_the_policy_as_settings_show_writes_them() -> None:
    defaults = {key: default for key, _, default in setting_help()}
    assert defaults["send_window"] == "mon-fri 09:00-19:00"
    assert defaults["cooldown_days"] == "30" and defaults["fallback_email"] == "on"
    assert defaults["holidays"] == "not set" and defaults["quiet_hours"] == "08:00-21:00"


def test_settings_set_help_lists_every_key_with_meaning_and_default(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per key, as a wide terminal shows it
    run = cli_invoker(database_url, monkeypatch, tmp_path)
    result = run("settings", "set", "--help")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    for key, meaning, default in setting_help():
        assert f"{key}: {meaning} Default: {default}." in lines, key
