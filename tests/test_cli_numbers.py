"""The CLI reads request numbers as Slack does: ranges and lists, with Slack's errors."""

from __future__ import annotations

from tests.test_cli import run  # noqa: F401  (the CLI fixture)


def test_a_range_pauses_every_request_in_it(run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for name, phone in (("A", "0610203040"), ("B", "0610203041"), ("C", "0610203042")):
        assert run("send", name, "--phone", phone, "--in", "1d").exit_code == 0
    paused = run("pause", "1-2")
    assert paused.exit_code == 0, paused.output
    assert "#1 paused" in paused.output and "#2 paused" in paused.output
    assert "#3" not in paused.output
    resumed = run("resume", "#1,", "#2")
    assert "#1 resumed" in resumed.output and "#2 resumed" in resumed.output


def test_a_reversed_range_is_refused_like_in_slack(run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    refused = run("cancel", "9-1")
    assert refused.exit_code == 2
    assert "'9-1' is not a range I can use" in refused.output


def test_a_range_where_one_request_is_meant_is_refused_with_exit_code_2(run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert run("send", "A", "--phone", "0610203040", "--in", "1d").exit_code == 0
    for verb in ("show", "edit", "delete"):
        refused = run(verb, "1-2")
        assert refused.exit_code == 2, (verb, refused.output)
        assert "'1-2' is not a request number." in refused.output
        assert "Traceback" not in refused.output
