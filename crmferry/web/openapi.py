"""The OpenAPI document at /api/v1/openapi.json, made true to what the server sends.

FastAPI writes the operations from the routes and their models; this adds what it
cannot know: how callers authenticate, that every error is problem+json (with the
statuses any API call can meet: 401 without credentials, 403 for a cookie write
without its CSRF token or a role that may not, 400 for a body that cannot be
decoded, 413 past the body limit, 422 for a bad parameter or body),
and readable operation ids (the routes' names: `jobs_create`, `jobs_cancel`, …).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from crmferry.web.api.models.problems import Problem, problem_responses
from crmferry.web.deps import admin_principal, member_principal
from crmferry.web.problems import PROBLEM_MEDIA_TYPE, route_views

API_PREFIX = "/api/v1"
WRITES = ("post", "put", "patch", "delete")

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: `crmferry tokens create`, or Settings → API tokens.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "crmferry_session",
        "description": "The web session cookie set by signing in.",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "With the session cookie, required on every write (the page's "
        '`<meta name="csrf-token">`).',
    },
}


def operation_id(route: APIRoute) -> str:
    """A route's operation id is its name (`jobs_create`), readable in generated clients."""
    return route.name


def install(app: FastAPI) -> None:
    """Serve the completed document (made once, at the first request for it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(document, _role_checked(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _role_checked(app: FastAPI) -> set[str]:
    """The operation ids whose dependencies check a role (so they may answer 403)."""
    checks = {admin_principal, member_principal}

    def checked(dependant: Any) -> bool:
        return dependant.call in checks or any(checked(d) for d in dependant.dependencies)

    views = route_views(app)
    return {v.name for v in views if getattr(v, "dependant", None) and checked(v.dependant)}


def complete(document: dict[str, Any], role_checked: set[str]) -> dict[str, Any]:
    """The document with security schemes and every error as problem+json."""
    components = document.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if path.startswith(API_PREFIX):
                _secure(method, operation, operation.get("operationId") in role_checked)
            _problems_only(operation)
    return document


def _secure(method: str, operation: dict[str, Any], role_checked: bool) -> None:
    session: dict[str, list[str]] = {"session": []}
    if method in WRITES:
        session["csrf"] = []
    operation["security"] = [{"bearer": []}, session]
    codes = [401]
    if method in WRITES or role_checked:
        codes.append(403)
    if operation.get("parameters") or operation.get("requestBody"):
        codes.append(422)
    if operation.get("requestBody"):
        codes += [400, 413]  # a body that is not UTF-8 JSON; one past the body limit
    responses = operation.setdefault("responses", {})
    for code, response in problem_responses(*codes).items():
        responses.setdefault(str(code), response)


def _problems_only(operation: dict[str, Any]) -> None:
    for code, response in operation.get("responses", {}).items():
        if code.startswith(("4", "5")):
            response["content"] = {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
