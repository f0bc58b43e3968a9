"""RFC 9457 problem details: every error leaves the API in this one shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from crmferry.errors import CrmFerryError, Unauthenticated

PROBLEM_TYPE = "https://crmferry.dev/problems/"


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.method == "GET"


async def crmferry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CrmFerryError)
    if isinstance(exc, Unauthenticated) and _wants_page(request):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem(exc.status, exc.title, exc.detail, exc.errors, headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field_path(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
    return problem(422, "Validation failed", f"The request is not valid: {summary}.", errors)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required"}
    title = titles.get(exc.status_code, "Error")
    return problem(exc.status_code, title, str(exc.detail))


def install(app: FastAPI) -> None:
    app.add_exception_handler(CrmFerryError, crmferry_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
