"""The Workflow Builder step "Send a review request", driven as Slack runs it.

Each run is a signed `function_executed` event posted to /slack/events with the run's id, its
own token and the step's inputs; the run ends in the fake Slack with `functions.completeSuccess`
(the outputs) or `functions.completeError` (the reason). The fake accepts those only with the
run's own token, as Slack does.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bot.domain.channels import METHOD_LABELS
from bot.domain.errors import NotFound
from bot.domain.templating import LANGUAGES
from bot.usecases.creating import CONSENT_REQUIRED
from handlers.install_words import NOT_INSTALLED
from handlers.permissions import GUEST_REFUSAL
from handlers.quick_send import REVIEW_TYPES
from handlers.step_runs import UNKNOWN_STEP
from tests.fakes.slack_api import DROPPED, FakeSlack
from tests.slack_harness import (  # noqa: F401
    CHANNEL,
    SIGNING_SECRET,
    TEAM_ID,
    USER,
    SlackHarness,
    sign,
    slack_fixture,
    text_of,
)
from tests.test_slack_database_down import cut_the_database
from tests.test_slack_oauth import Installed, install, served  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
START_URL = "https://slack.com/app_redirect?app=A0001&team=T0001"


def step_event(
    fake: FakeSlack,
    inputs: dict[str, Any],
    run: tuple[str, str],
    team: str = TEAM_ID,
    callback_id: str = "send_review_request",
) -> str:
    """The Events API body of one run of our step, as Slack sends it."""
    execution_id, token = run
    body = {
        "token": "verification-token-unused",
        "team_id": team,
        "api_app_id": fake.app_id,
        "event": {
            "type": "function_executed",
            "function": {
                "id": "Fn0001",
                "callback_id": callback_id,
                "title": "Send a review request",
                "description": "Ask a customer for a review",
                "type": "app",
                "input_parameters": [],
                "output_parameters": [],
                "app_id": fake.app_id,
                "date_created": 1764000000,
                "date_updated": 1764000000,
                "date_deleted": 0,
            },
            "inputs": inputs,
            "function_execution_id": execution_id,
            "workflow_execution_id": "Wx0001",
            "event_ts": f"{time.time():.6f}",
            "bot_access_token": token,
        },
        "type": "event_callback",
        "event_id": f"Ev{execution_id}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
    }
    return json.dumps(body)


def run_step(
    slack: SlackHarness, inputs: dict[str, Any], *, team: str = TEAM_ID
) -> tuple[str, dict[str, Any]]:
    """Run the step once; return the run's id and how the app ended it."""
    run = slack.fake.issue_function_execution()
    response = slack.post(
        step_event(slack.fake, inputs, run, team), content_type="application/json"
    )
    assert response.status_code == 200, response.text
    return run[0], ended(slack, run[0])


def ended(slack: SlackHarness, execution_id: str, count: int = 1) -> dict[str, Any]:
    """Wait for the run's `count`-th ending; return it."""
    assert slack.fake.wait_for(lambda: len(slack.fake.results_of(execution_id)) >= count)
    return slack.fake.results_of(execution_id)[count - 1]


def failure(slack: SlackHarness, inputs: dict[str, Any], **kwargs: Any) -> str:
    """Run the step, expecting it to fail; return the reason."""
    _, result = run_step(slack, inputs, **kwargs)
    assert result["method"] == "functions.completeError", result
    return str(result["error"])


def nothing_stored(slack: SlackHarness) -> None:
    with pytest.raises(NotFound):
        slack.ops.show(slack.ws, 1)


JANE = {"name": "Jane Doe", "phone": "+33 6 10 20 30 40"}


# --- success -------------------------------------------------------------------------------------


def test_a_run_creates_the_request_and_completes_with_its_outputs(slack: SlackHarness) -> None:
    inputs = {
        **JANE,
        "method": "sms",
        "review_type": "product",
        "language": "fr",
        "reference": "A-1",
        "delay": "2h",
        "user_id": USER,
        "channel": CHANNEL,
    }
    _, result = run_step(slack, inputs)
    assert result["method"] == "functions.completeSuccess"
    assert result["outputs"] == {"request_number": 1, "status": "queued", "request_url": START_URL}

    request = slack.ops.show(slack.ws, 1).request
    assert (request.customer_name, request.phone, request.reference) == (
        "Jane Doe",
        "+33610203040",
        "A-1",
    )
    assert (request.method, request.origin, request.created_by) == ("sms", "workflow", USER)
    assert (request.review_type, request.language) == ("product", "fr")
    assert request.scheduled_at == slack.clock.now() + timedelta(hours=2)
    # The card goes to the channel the step names, and says where the request came from.
    slack.app.outbox.run_once()
    (card,) = slack.fake.messages(CHANNEL)
    assert f"<@{USER}> via Workflow Builder" in text_of(card)


def test_a_run_with_no_person_and_delay_zero_goes_out_now(slack: SlackHarness) -> None:
    _, result = run_step(slack, {"email": "jane@example.com", "delay": "0"})
    assert result["outputs"]["request_number"] == 1
    request = slack.ops.show(slack.ws, 1).request
    assert request.created_by == "workflow" and request.email == "jane@example.com"
    assert request.scheduled_at == slack.clock.now()


def test_a_repeated_delivery_creates_nothing_and_completes_the_same(slack: SlackHarness) -> None:
    run = slack.fake.issue_function_execution()
    body = step_event(slack.fake, {**JANE, "reference": "A-1"}, run)
    assert slack.post(body, content_type="application/json").status_code == 200
    first = ended(slack, run[0])
    # Slack delivers the same event again (it missed our answer).
    assert slack.post(body, content_type="application/json").status_code == 200
    second = ended(slack, run[0], count=2)
    assert first == second and first["outputs"]["request_number"] == 1
    assert slack.ops.count_queued(slack.ws) == 1
    with pytest.raises(NotFound):
        slack.ops.show(slack.ws, 2)


def test_the_manifests_choices_are_the_apps() -> None:
    inputs = yaml.safe_load((ROOT / "manifest.yml").read_text())["functions"][
        "send_review_request"
    ]["input_parameters"]["properties"]
    methods = {c["value"]: c["title"] for c in inputs["method"]["choices"]}
    assert inputs["method"]["enum"] == list(methods) and methods == METHOD_LABELS
    assert tuple(inputs["language"]["enum"]) == LANGUAGES
    assert tuple(inputs["review_type"]["enum"]) == REVIEW_TYPES


def test_help_points_to_the_step(slack: SlackHarness) -> None:
    assert slack.post_command("help").status_code == 200
    assert "In Workflow Builder, add the step *Send a review request*" in text_of(slack.answer())


def test_the_outputs_are_the_manifests(slack: SlackHarness) -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    step = manifest["functions"]["send_review_request"]
    _, result = run_step(slack, JANE)
    assert set(result["outputs"]) == set(step["output_parameters"]["properties"])
    assert set(step["output_parameters"]["required"]) == set(result["outputs"])


# --- refusals: the step fails with the reason, nothing is stored ----------------------------------


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ({"name": "Jane", "phone": "12"}, "phone: "),
        ({"name": "Jane"}, "phone: "),
        ({**JANE, "delay": "soon"}, "delay: 'soon' is not a delay"),
        ({**JANE, "method": "pigeon"}, "method: 'pigeon' is not a way to send"),
        ({**JANE, "name": "J" * 10_000}, "name: at most 100 characters (got 10,000)"),
        # What is quoted back stays words in Slackbot's message (escaped for mrkdwn).
        ({**JANE, "user_id": "<!channel>"}, "user_id: '&lt;!channel&gt;' is not a Slack id."),
        ({**JANE, "delay": "<@U0BOSS>"}, "delay: '&lt;@U0BOSS&gt;' is not a delay"),
        ({**JANE, "phone": 33610203040}, "phone: must be text."),
        ({**JANE, "review_type": "vibes"}, "review_type: 'vibes' is not a review type"),
        ({**JANE, "language": "xx"}, "language: 'xx' is not a language"),
    ],
)
def test_a_wrong_input_fails_the_step_naming_it(
    slack: SlackHarness, inputs: dict[str, Any], reason: str
) -> None:
    assert failure(slack, inputs).startswith(reason)
    nothing_stored(slack)


def test_the_cooldown_fails_the_step_unless_told_to_send_anyway(slack: SlackHarness) -> None:
    slack.create("Jane Doe", phone="+33610203040")
    reason = failure(slack, JANE)
    assert reason.startswith("phone: Jane Doe was already asked") and "cooldown" in reason
    _, result = run_step(slack, {**JANE, "send_anyway": True})
    assert result["outputs"]["request_number"] == 2


def test_a_workspace_that_requires_consent_needs_the_consent_input(slack: SlackHarness) -> None:
    slack.set_policy(require_consent=True)
    assert failure(slack, {**JANE, "user_id": USER}) == f"consent: {CONSENT_REQUIRED}"
    nothing_stored(slack)
    _, result = run_step(slack, {**JANE, "user_id": USER, "consent": True})
    assert result["method"] == "functions.completeSuccess"
    assert slack.ops.show(slack.ws, 1).request.consent_by == USER


def test_a_guest_named_as_the_requester_is_refused(slack: SlackHarness) -> None:
    slack.fake.add_user("U0GUEST", is_restricted=True)
    assert failure(slack, {**JANE, "user_id": "U0GUEST"}) == GUEST_REFUSAL
    nothing_stored(slack)


def test_a_run_from_a_team_without_reviewops_fails_and_creates_nothing(
    slack: SlackHarness,
) -> None:
    assert failure(slack, JANE, team="T0OTHER") == NOT_INSTALLED
    nothing_stored(slack)


# --- errors of ours and of Slack: the run still ends ---------------------------------------------


def test_with_the_database_down_the_step_fails_saying_so(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    cut_the_database(slack)
    with caplog.at_level(logging.ERROR, logger="handlers.errors"):
        assert failure(slack, JANE).startswith("reviewops cannot reach its database")
    logged = [r.getMessage() for r in caplog.records if r.exc_info]
    assert "Slack listener send_review_request failed" in logged


def test_a_completion_slack_refuses_ends_the_run_saying_the_request_exists(
    slack: SlackHarness,
) -> None:
    slack.fake.fail_next("functions.completeSuccess", error="internal_error")
    reason = failure(slack, JANE)
    assert reason.startswith("Request #1 was created, but Slack didn't take this step's result")
    assert slack.ops.show(slack.ws, 1).request.origin == "workflow"


def test_a_step_the_app_no_longer_has_fails_instead_of_hanging(slack: SlackHarness) -> None:
    run = slack.fake.issue_function_execution()
    body = step_event(slack.fake, JANE, run, callback_id="send_review_request_v0")
    # Answered 200, so Slack does not deliver it again; the run ends with the reason.
    assert slack.post(body, content_type="application/json").status_code == 200
    assert ended(slack, run[0])["error"] == UNKNOWN_STEP
    nothing_stored(slack)


# --- a multi-workspace (OAuth) install -----------------------------------------------------------


@pytest.fixture(name="oauth")
def oauth_fixture(served: Installed) -> Installed:  # noqa: F811  (test_slack_oauth's fixture)
    """The app with OAuth (several workspaces), served."""
    return served


def post_to(oauth: Installed, body: str) -> requests.Response:
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
    }
    return requests.post(f"{oauth.url}/slack/events", data=body, headers=headers, timeout=10)


def test_with_oauth_an_installed_workspaces_run_completes(oauth: Installed) -> None:
    assert install(oauth).status_code == 200
    run = oauth.fake.issue_function_execution()
    assert post_to(oauth, step_event(oauth.fake, JANE, run)).status_code == 200
    assert oauth.fake.wait_for(lambda: oauth.fake.results_of(run[0]))
    (result,) = oauth.fake.results_of(run[0])
    assert result["outputs"]["request_number"] == 1


def test_with_oauth_a_run_from_a_workspace_not_installed_fails(oauth: Installed) -> None:
    run = oauth.fake.issue_function_execution()
    assert post_to(oauth, step_event(oauth.fake, JANE, run)).status_code == 200
    assert oauth.fake.wait_for(lambda: oauth.fake.results_of(run[0]))
    (result,) = oauth.fake.results_of(run[0])
    assert result["error"] == NOT_INSTALLED


def test_a_slack_outage_at_completion_is_tried_again(slack: SlackHarness) -> None:
    """A 500 (or no answer) from functions.completeSuccess is an outage, not a refusal: the run
    still completes with its outputs; the request is made once."""
    slack.fake.fail_next("functions.completeSuccess", status=500)
    slack.fake.fail_next("functions.completeSuccess", status=DROPPED)
    run = slack.fake.issue_function_execution()
    assert (
        slack.post(step_event(slack.fake, JANE, run), content_type="application/json").status_code
        == 200
    )
    result = ended(slack, run[0])
    assert (
        result["method"] == "functions.completeSuccess" and result["outputs"]["request_number"] == 1
    )
    assert len(slack.fake.calls_to("functions.completeSuccess")) == 3
    assert slack.ops.show(slack.ws, 1).request.origin == "workflow"
