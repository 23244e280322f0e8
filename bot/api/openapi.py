"""The OpenAPI 3.1 document of the REST API, generated from the models that check its input
and build its answers (`bot/api/models.py`): nothing here restates a field or a limit."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bot.api.models import (
    ListQuery,
    Problem,
    RequestDetailOut,
    RequestIn,
    RequestOut,
    RequestPage,
    StatsOut,
    StatsQuery,
)
from store.integration_models import IDEMPOTENCY_KEY_MAX

REF = "#/components/schemas/{model}"
PROBLEM_JSON = "application/problem+json"
MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (RequestIn, "validation"),
    (RequestOut, "serialization"),
    (RequestDetailOut, "serialization"),
    (RequestPage, "serialization"),
    (StatsOut, "serialization"),
    (Problem, "serialization"),
]
ERRORS = {
    400: "The body is not a JSON object.",
    401: "No valid API key (missing, unknown or revoked).",
    404: "No such request in the key's workspace.",
    409: "Not allowed in the request's state, the cooldown, or an Idempotency-Key reused "
    "with another body.",
    413: "The body is over 16 KB.",
    422: "A field is wrong: `errors` names each, with its reason.",
    429: "The key is over its rate: wait `Retry-After` seconds.",
}
NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "The request's number (`#42` in Slack).",
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key and body get the first answer again (for 24 hours); "
    "the same key with another body gets 409.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX,
        "pattern": "^[!-~]+$",
    },
}


class _Builder:
    """The schemas generated from the models, and the pieces of operations made of them."""

    def __init__(self) -> None:
        self.refs, top = models_json_schema(MODELS, ref_template=REF)
        self.schemas: dict[str, Any] = dict(top.get("$defs", {}))

    def body(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return {"application/json": {"schema": self.refs[(model, mode)]}}

    def responses(self, status: int, model: type[BaseModel], what: str, *errors: int) -> Any:
        """The answer of an operation and its problems (401 and 429 for every one)."""
        answers: dict[str, Any] = {
            str(status): {"description": what, "content": self.body(model, "serialization")}
        }
        problem = {PROBLEM_JSON: {"schema": self.refs[(Problem, "serialization")]}}
        for code in sorted({401, 429, *errors}):
            answers[str(code)] = {"description": ERRORS[code], "content": problem}
        answers["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}
        return answers

    def change(self, verb: str, what: str) -> dict[str, Any]:
        """A POST that changes one request (pause, resume, cancel)."""
        return {
            "post": {
                "operationId": f"{verb}Request",
                "summary": what,
                "parameters": [NUMBER],
                "responses": self.responses(200, RequestOut, "The request as it is now.", 404, 409),
            }
        }

    def requests(self) -> dict[str, Any]:
        """POST and GET /api/v1/requests."""
        return {
            "post": {
                "operationId": "createRequest",
                "summary": "Ask a customer for a review.",
                "parameters": [IDEMPOTENCY],
                "requestBody": {"required": True, "content": self.body(RequestIn, "validation")},
                "responses": self.responses(
                    201, RequestOut, "Created: its number, status and due time.", 400, 409, 413, 422
                ),
            },
            "get": {
                "operationId": "listRequests",
                "summary": "List requests, newest first, filtered; keyset pages.",
                "parameters": query_parameters(ListQuery, self.schemas),
                "responses": self.responses(200, RequestPage, "One page.", 422),
            },
        }

    def read(self, operation: str, summary: str, model: type[BaseModel], *errors: int) -> Any:
        """A GET with its parameters (a request's number, or the stats' period)."""
        parameters = [NUMBER] if 404 in errors else query_parameters(StatsQuery, self.schemas)
        return {
            "get": {
                "operationId": operation,
                "summary": summary,
                "parameters": parameters,
                "responses": self.responses(200, model, summary, *errors),
            }
        }


def document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of `/api/v1`."""
    build = _Builder()
    paths: dict[str, Any] = {
        "/api/v1/requests": build.requests(),
        "/api/v1/requests/{number}": build.read(
            "showRequest", "A request with its messages and events.", RequestDetailOut, 404
        ),
        "/api/v1/requests/{number}/pause": build.change("pause", "Hold what waits until resumed."),
        "/api/v1/requests/{number}/resume": build.change("resume", "Put paused messages back."),
        "/api/v1/requests/{number}/cancel": build.change(
            "cancel", "Cancel what it still had to send."
        ),
        "/api/v1/stats": build.read(
            "stats", "How the requests created in a period went.", StatsOut, 422
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "reviewops API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": build.schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """Describe a query model's fields as query parameters (their schemas generated)."""
    generated = model.model_json_schema(ref_template=REF, mode="validation")
    schemas.update(generated.get("$defs", {}))
    parameters = []
    for name, schema in generated.get("properties", {}).items():
        description = schema.pop("description", None)
        schema.pop("default", None)
        # A query string has no null: an absent parameter is the None of the model.
        choices = [s for s in schema.pop("anyOf", []) if s.get("type") != "null"]
        if choices:
            schema.update(choices[0])
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema,
        }
        if description:
            parameter["description"] = description
        if schema.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters
