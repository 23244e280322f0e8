"""The running API against its own OpenAPI document, property-based (schemathesis): every
operation, with valid and invalid input, answers as the document says, never a 500, and
refuses calls without the key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.core.failures import FailureGroup

from bot.clock import FrozenClock
from tests.api_harness import ApiServer, api_server

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]


@pytest.fixture
def served(database_url: str, clock: FrozenClock) -> Iterator[ApiServer]:
    # No rate limit in the way of the examples; requests #1 and #2 exist to be read and changed.
    with api_server(database_url, clock, API_BURST=1_000_000) as api:
        api.create()
        api.create(name="John", phone="+33 6 12 34 56 79", delay="1d")
        yield api


@pytest.fixture
def api_schema(served: ApiServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{served.url}/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_running_api_keeps_to_its_openapi_document(
    case: schemathesis.Case, served: ApiServer
) -> None:
    # The real key replaces the generated one; a negative case that dropped the header keeps
    # it dropped (adding it back made schemathesis call an accepted call a missed refusal).
    keyed = "Authorization" in (case.headers or {})
    headers = {"Authorization": f"Bearer {served.secret}"} if keyed else {}
    case.call_and_validate(base_url=served.url, headers=headers, checks=CHECKS)


def test_an_answer_outside_the_document_would_be_caught(served: ApiServer) -> None:
    # The checks can fail: against a document where `deleted` is a string, the same call fails.
    doc = requests.get(f"{served.url}/api/openapi.json", timeout=10).json()
    doc["components"]["schemas"]["RequestDetailOut"]["properties"]["deleted"] = {"type": "string"}
    operation = schemathesis.openapi.from_dict(doc)["/api/v1/requests/{number}"]["GET"]
    case = operation.Case(path_parameters={"number": 1})
    headers = {"Authorization": f"Bearer {served.secret}"}
    with pytest.raises(FailureGroup, match="Response violates schema"):
        case.call_and_validate(base_url=served.url, headers=headers, checks=CHECKS)
