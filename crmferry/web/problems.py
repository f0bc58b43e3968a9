"""RFC 9457 problem details: every error leaves the API in this one shape.

One place turns every failure into `application/problem+json`: the errors CRM Ferry
raises on purpose, a request FastAPI could not validate, Starlette's 404/405, and
(through `CatchAll`) anything unexpected, which is logged once and answered 500
without dropping the kept-alive connection.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmferry.errors import CrmFerryError, Unauthenticated

PROBLEM_TYPE = "https://crmferry.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# a 422 lists this many errors and counts the rest: 1 MB of bad input must not
# come back as a 15 MB answer
MAX_LISTED_ERRORS = 20
MAX_DETAIL_CHARS = 2000

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}

log = logging.getLogger(__name__)


class ProblemResponse(JSONResponse):
    """JSON that always encodes: a lone surrogate a client sent (and a message repeats)
    becomes '?' instead of failing the answer itself."""

    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", errors="replace")


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The problem+json answer; at most MAX_LISTED_ERRORS errors are listed, and
    `error_count` says how many there were."""
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 1] + "…"
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [_listed(e) for e in errors[:MAX_LISTED_ERRORS]]
        body["error_count"] = len(errors)
    return ProblemResponse(body, status_code=status, headers=headers)


def _listed(error: dict[str, Any]) -> dict[str, str]:
    return {
        "field": str(error.get("field", ""))[:300],
        "message": str(error.get("message", ""))[:MAX_DETAIL_CHARS],
    }


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.method == "GET"


async def crmferry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CrmFerryError)
    if isinstance(exc, Unauthenticated) and _wants_page(request):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem(exc.status, exc.title, exc.detail, exc.errors, headers)


def field_path(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as the API names fields: `options.fields[2]`. The
    leading `body`/`query`/`path` and the tag of a discriminated union are dropped."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where = parts.pop(0)
        tagged = where == "body" and len(parts) > 1 and isinstance(parts[0], str)
        if tagged and parts[0] in UNION_TAGS:
            parts.pop(0)
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


# the tags of the request bodies' discriminated unions (job types), registered by
# the models that declare them, so that a field reads `options.format`
UNION_TAGS: set[str] = set()


def _validation_error(error: Any) -> dict[str, str]:
    """One pydantic error as `{"field", "message"}`; a discriminated union's missing or
    unknown tag is reported on the tag's own field."""
    loc, message = tuple(error["loc"]), str(error["msg"])
    if "[key]" in loc:  # a dict key that failed: name the dict, not the bad key itself
        loc = loc[: loc.index("[key]") - 1]
        message = "each key " + message
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        context = error.get("ctx") or {}
        loc = (*loc, str(context.get("discriminator", "")).strip("'"))
        tags = str(context.get("expected_tags", "")).replace("'", "").split(", ")
        expected = ", ".join(sorted(t for t in tags if t))
        message = f"must be one of {expected}" if expected else "is required"
    elif error["type"] == "extra_forbidden":
        tag = loc[1] if len(loc) > 2 and loc[0] == "body" and loc[1] in UNION_TAGS else None
        message = "is not a field of this request" + (f" (job_type {tag})" if tag else "")
    return {"field": field_path(loc), "message": message}


def _sentence(error: dict[str, str]) -> str:
    message = error["message"]
    joint = " " if message[:1].islower() else ": "
    return error["field"] + joint + message


async def request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_validation_error(e) for e in exc.errors()]
    summary = "; ".join(_sentence(e) for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return problem(422, "Validation failed", f"The request is not valid: {summary}{more}.", errors)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    title = TITLES.get(exc.status_code, "Error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
    return problem(exc.status_code, title, str(exc.detail), headers=headers or None)


def route_views(app: Any) -> list[Any]:
    """Every route of the app with its full path, name, methods and dependencies, also
    those of included routers (FastAPI 0.160 and later keep those nested)."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined]
    except ImportError:  # earlier releases copy included routes into app.routes
        return list(app.router.routes)
    return list(iter_route_contexts(app.router.routes))


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route answers at this path (Starlette names only the first
    route's), HEAD wherever GET is."""
    methods: set[str] = set()
    for route in route_views(app):
        route_path, route_methods = getattr(route, "path", None), getattr(route, "methods", None)
        if route_path and route_methods and compile_path(route_path)[0].match(path):
            methods |= set(route_methods)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


class CatchAll:
    """Outermost: an exception nothing else handled is logged once, with its traceback,
    and answered 500 problem+json. It is not raised further, so the server keeps the
    connection open (uvicorn closes it and logs again when an app raises)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("Unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                return  # the answer is half sent: nothing better can be done
            response = problem(500, TITLES[500], "Something went wrong on our side; it is logged.")
            await response(scope, receive, send)


class HeadAsGet:
    """HEAD is answered wherever GET is: the request runs as a GET and its body is
    dropped (the headers, Content-Length included, are those of the GET)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def headers_only(message: Message) -> None:
            nonlocal finished
            if finished:
                return
            if message["type"] == "http.response.body":
                finished = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def install(app: FastAPI) -> None:
    """The exception handlers; `install_outer` adds the middleware once the app's own
    middleware is in place (it must be outermost)."""
    app.add_exception_handler(CrmFerryError, crmferry_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)


def install_outer(app: FastAPI) -> None:
    """The catch-all and HEAD middleware, outside every other middleware."""
    app.add_middleware(HeadAsGet)
    app.add_middleware(CatchAll)
