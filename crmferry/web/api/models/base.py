"""The building blocks every API model uses: text PostgreSQL can store, names, choices
read from the registries when a request is checked, and the two model bases.

The text rule lives here once: a string holding U+0000 (PostgreSQL's text cannot) or a
lone surrogate (it is not Unicode, and cannot even be written back as UTF-8) is a 422
naming the field, in a body or in a query parameter alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from crmferry.errors import ValidationFailed
from crmferry.web.problems import UNION_TAGS


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "must not contain the NUL character (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate such as \\ud800)"
    return None


MAX_JSON_DEPTH = 32


def json_problem(value: object, depth: int = 0) -> str | None:
    """Why a free-form JSON value cannot be stored: unstorable text (in a key or a
    value), a number that is not finite, or nesting deeper than MAX_JSON_DEPTH."""
    if depth > MAX_JSON_DEPTH:
        return f"is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    items: list[object] = []
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    for item in items:
        problem = json_problem(item, depth + 1)
        if problem is not None:
            return problem
    return None


def _checked_json(value: Any) -> Any:
    problem = json_problem(value)
    if problem is not None:
        raise PydanticCustomError("json_unstorable", problem)
    return value


JsonValue = Annotated[Any, AfterValidator(_checked_json)]
"""Free-form JSON for a domain parser to read: only checked to be storable."""


def _checked_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise PydanticCustomError("text_unstorable", problem)
    return value


def domain_rule(rule: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A domain check (raising ValidationFailed) as a pydantic validator, so that its
    message is reported with every other problem of the request, at the field's path."""

    def validate(value: Any) -> Any:
        try:
            return rule(value)
        except ValidationFailed as exc:
            raise PydanticCustomError("domain_rule", "{reason}", {"reason": exc.detail}) from None

    return validate


Text = Annotated[str, AfterValidator(_checked_text)]
"""Any string of a request: no NUL character, no lone surrogate."""

Name = Annotated[Text, Field(min_length=1, max_length=200)]

Cursor = Annotated[Text, Field(max_length=500, description="`next_cursor` of the previous page.")]


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


BlankIsNone = BeforeValidator(_blank_is_none)
"""For a query filter: `?status=` means no filter, as it always has."""

Instant = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""A time as the API writes it: RFC 3339 in UTC, with its offset."""

Uuid = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]
"""An id as the API writes it."""


class Choice:
    """Annotated metadata: a string that must be one of `choices()`, read when a value
    is checked and when the OpenAPI document is made (so registered data types and job
    kinds are never copied into a list here). With `enforce=False` the choices are only
    documented: a domain parser checks them, with the request's other problems."""

    def __init__(self, choices: Callable[[], Iterable[str]], enforce: bool = True) -> None:
        self.choices = choices
        self.enforce = enforce

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        if not self.enforce:
            return handler(source)
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        value = handler(schema)
        value["enum"] = list(self.choices())
        return value

    def _check(self, value: str) -> str:
        allowed = list(self.choices())
        if value not in allowed:
            raise PydanticCustomError(
                "choice", "must be one of {allowed}", {"allowed": ", ".join(allowed)}
            )
        return value


OTHER_KIND = "other"


def by_job_type(*models: type[BaseModel]) -> Callable[[Any], str]:
    """The discriminator of an open union: a body whose `job_type` one of `models` fixes
    is read by that model; any other (a kind a plugin registers) by the union's
    `OTHER_KIND` member, whose own `job_type` check lists every kind that may be used.
    The tags are made known to the error paths (`options.format`, not
    `export.options.format`)."""
    tags = {get_args(m.model_fields["job_type"].annotation)[0] for m in models}
    UNION_TAGS.update(tags | {OTHER_KIND})

    def pick(value: Any) -> str:
        job_type = value.get("job_type") if isinstance(value, dict) else None
        if job_type is None:
            job_type = getattr(value, "job_type", None)
        # missing, not text or not fixed by a model: the other member says what is wrong
        return job_type if isinstance(job_type, str) and job_type in tags else OTHER_KIND

    return pick


OTHER_KIND_CONFIG = ConfigDict(extra="allow", allow_inf_nan=False)


class StorableExtras(BaseModel):
    """Mixin for the body of a kind without a model of its own (its model sets
    OTHER_KIND_CONFIG): its keys are the kind's to check, and every value, known or
    not, must be storable JSON."""

    @model_validator(mode="after")
    def _storable_extras(self) -> StorableExtras:
        for key, value in (self.model_extra or {}).items():
            problem = json_problem(value) or text_problem(key)
            if problem is not None:
                raise PydanticCustomError("json_unstorable", f"{key}: {problem}")
        return self


class RequestBody(BaseModel):
    """A request body: unknown keys are a 422, NaN and infinities are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    def plain(self) -> dict[str, Any]:
        """The body as the domain takes it: JSON types, only the keys the client sent."""
        return self.model_dump(mode="json", exclude_unset=True)


class Answer(BaseModel):
    """A response object. Keys the model does not name are passed through, so a field a
    kind or a later release adds is sent even before it is described here."""

    model_config = ConfigDict(extra="allow")


class Page(Answer):
    next_cursor: str | None = Field(
        description="Pass back as `cursor` for the next page; null on the last page."
    )
