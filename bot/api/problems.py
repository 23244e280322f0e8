"""RFC 9457 problem details: every error of the REST API, as `application/problem+json`.

A refusal of the use-cases (`DomainError`) keeps its words, the same the Slack surface and the
CLI show; its fields are renamed to the API's names (`review_type` is `type`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, json

from bot.domain.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "tag:reviewops,2026:problem:"

# The use-cases' field names, as the API calls them.
API_FIELDS = {
    "review_type": "type",
    "at": "send_at",
    "when": "send_at",
}
# The read path's criteria, as the list's query parameters call them.
LIST_FIELDS = {"text": "q", "to": "created_to"}


class ApiProblem(Exception):  # noqa: N818  (a problem document, as RFC 9457 names it)
    """An answer that is a problem: raised anywhere in a route, turned into its response."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        slug: str | None = None,
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body: dict[str, object] = {
            "type": TYPE_BASE + self.slug if self.slug else "about:blank",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = [
                {"field": field, "detail": detail} for field, detail in self.errors.items()
            ]
        answer = Response(json.dumps(body), status=self.status, mimetype=PROBLEM_JSON)
        for name, value in self.headers.items():
            answer.headers[name] = value
        return answer


def invalid(errors: Mapping[str, str], detail: str | None = None) -> ApiProblem:
    """Say which fields are wrong (422), each with its reason."""
    named = {API_FIELDS.get(field, field): reason for field, reason in errors.items()}
    return ApiProblem(
        422,
        "Invalid input",
        detail or " ".join(named.values()),
        slug="invalid-input",
        errors=named,
    )


def from_domain(exc: DomainError) -> ApiProblem:
    """Turn a use-case's refusal into its problem, in the use-case's own words."""
    if isinstance(exc, InvalidInput):
        errors = exc.errors or {exc.field or "input": exc.message}
        return invalid(errors, exc.message)
    if isinstance(exc, NotFound):
        return ApiProblem(404, "Not Found", exc.message)
    if isinstance(exc, Conflict):
        field = API_FIELDS.get(exc.field or "", exc.field)
        named = {field: exc.message} if field else None
        return ApiProblem(409, "Conflict", exc.message, slug="conflict", errors=named)
    if isinstance(exc, NotAllowed):
        return ApiProblem(409, "Not allowed now", exc.message, slug="not-allowed")
    return ApiProblem(400, "Bad Request", exc.message)
