"""The problem+json object (RFC 9457) as the OpenAPI document describes every error."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from crmferry.web.problems import MAX_LISTED_ERRORS, PROBLEM_MEDIA_TYPE, TITLES


class FieldError(BaseModel):
    field: str = Field(description="The field, e.g. `options.filters[0].value`, or `body`.")
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str = Field(description="A sentence for a person: what is wrong and what to do.")
    errors: list[FieldError] | None = Field(
        default=None, description=f"One entry per problem, at most {MAX_LISTED_ERRORS}."
    )
    error_count: int | None = Field(
        default=None,
        description="How many problems there were in all (more may exist than listed).",
    )


WHEN = {
    400: "The request cannot be used.",
    401: "No valid credentials: a bearer token or a session cookie.",
    403: "The caller's role may not do this, or a cookie-authenticated write lacks X-CSRF-Token.",
    404: "Absent, or of another organization (the two are never told apart).",
    405: "The method is not allowed here (see the Allow header).",
    409: "The object's state forbids this.",
    413: "The body is larger than allowed.",
    415: "A file that cannot be read.",
    422: "A field, parameter or file that cannot be used; `errors` names each.",
    429: "Too many requests.",
    503: "The file store (object storage) cannot be reached; try again.",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status as problem+json (the `Problem` schema is
    added to the document's components by `crmferry.web.openapi`)."""
    return {
        code: {
            "description": f"{TITLES.get(code, 'Error')}. {WHEN.get(code, '')}".strip(),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }
