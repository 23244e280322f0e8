"""The REST API v1 (`/api/v1/...`) and its OpenAPI document (`/api/openapi.json`).

`blueprint(app)` builds the Flask blueprint `bot/server.py::create_flask` registers: routes in
`routes.py`, keys and rate in `auth.py`, errors as RFC 9457 problems in `problems.py`, the
document generated from the models of `models.py` by `openapi.py`.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from bot.api.openapi import document
from bot.api.problems import ApiProblem, from_domain
from bot.api.routes import Routes, answer
from bot.app import ReviewOpsApp
from bot.domain.errors import DomainError

log = logging.getLogger(__name__)

PREFIX = "/api"


def blueprint(app: ReviewOpsApp) -> Blueprint:
    """Build the API's routes bound to one wired app."""
    api = Blueprint("reviewops_api", __name__, url_prefix=PREFIX)
    Routes(app).register(api)
    spec = document()

    @api.get("/openapi.json")
    def openapi() -> Response:
        return answer(spec)

    @api.errorhandler(ApiProblem)
    def problem(exc: ApiProblem) -> Response:
        return exc.response()

    @api.errorhandler(DomainError)
    def refused(exc: DomainError) -> Response:
        return from_domain(exc).response()

    @api.errorhandler(Exception)
    def failed(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return http_problem(exc)
        log.exception("API %s %s failed", request.method, request.path)
        return ApiProblem(
            500, "Internal Server Error", "Something went wrong on our side."
        ).response()

    return api


def http_problem(exc: HTTPException) -> Response:
    """Word an HTTP error (unknown route, wrong method) as a problem document."""
    response = ApiProblem(exc.code or 500, exc.name, exc.description or "").response()
    if exc.code == 405:
        valid = getattr(exc, "valid_methods", None) or []
        response.headers["Allow"] = ", ".join(valid)
    return response


def install(flask_app: Flask, app: ReviewOpsApp) -> None:
    """Register the API, and answer its unknown routes and wrong methods as problems too."""
    flask_app.register_blueprint(blueprint(app))

    @flask_app.errorhandler(404)
    @flask_app.errorhandler(405)
    def not_routed(exc: HTTPException) -> Response | HTTPException:
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            return http_problem(exc)
        return exc
