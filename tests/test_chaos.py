"""Fault run, CI size (issue 16): workers killed and frozen while they send, then a drain.

The short version of `make chaos` (bench/chaos.py): 100 messages, real `reviewops worker`
processes on one SQLite file (2) and on PostgreSQL (3, when TEST_DATABASE_URL is set), the
fake Twilio answering 0.2 s late and hanging for one recipient, random `kill -9` and
SIGSTOP/SIGCONT. After the drain: no message reached the provider twice, none is left
in flight, each `unknown` says why, each card was posted once with its replies in order.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from bench.chaos import Mode, run
from tests.conftest import PG_URL

MESSAGES = 100
CHAOS_SECONDS = 15.0


def _modes() -> list[pytest.ParameterSet]:
    sqlite = pytest.param(
        Mode("sqlite", 2, MESSAGES, CHAOS_SECONDS, latency=0.2, hang_share=0.01), id="sqlite"
    )
    if not PG_URL:
        return [sqlite]
    # A database of its own next to the suite's: the run empties it.
    url = make_url(PG_URL)
    chaos_url = url.set(database=f"chaos_{url.database}").render_as_string(hide_password=False)
    pg = Mode(
        "postgresql", 3, MESSAGES, CHAOS_SECONDS, latency=0.2, hang_share=0.01, pg_url=chaos_url
    )
    return [sqlite, pytest.param(pg, id="postgresql")]


@pytest.mark.timeout(600)  # past the drain's own limit (300 s + 1 s a message), which says more
@pytest.mark.parametrize("mode", _modes())
def test_no_duplicate_no_loss_under_kills_and_freezes(mode: Mode) -> None:
    result = run(mode)
    print(result.report())
    assert result.problems == [], result.report()
    assert result.faults["kill -9"] >= 1 and result.faults["SIGSTOP"] >= 1, result.faults
    figures = result.findings.figures
    assert sum(figures["statuses"].values()) == MESSAGES + 1  # the clones and their template
    assert figures["duplicates"] == 0
