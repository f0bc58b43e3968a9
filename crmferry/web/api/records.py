"""GET /contacts, /inventory, /bids and /{type}/{id}: read what imports wrote (any role)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query

from crmferry.records import DATA_TYPES, DataType
from crmferry.records.listing import get_record, list_records, public_record
from crmferry.web.api.models.base import BlankIsNone, Cursor, Text
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.api.models.records import RECORD_MODELS, record_page_model
from crmferry.web.built_json import BuiltJSON
from crmferry.web.deps import DB, CurrentPrincipal

router = APIRouter(tags=["records"])

Search = Annotated[
    Text | None,
    Query(max_length=200, description="Case-insensitive substring of the main text fields."),
    BlankIsNone,
]


def _lister(data_type: DataType) -> Callable[..., BuiltJSON]:
    def list_of_type(
        principal: CurrentPrincipal,
        db: DB,
        q: Search = None,
        limit: int = Query(default=50, ge=1, le=500),
        cursor: Annotated[Cursor | None, BlankIsNone] = None,
    ) -> BuiltJSON:
        with db.tenant(principal.organization_id) as conn:
            page = list_records(conn, data_type, q, limit, cursor)
        rows = [public_record(r) for r in page.rows]
        return BuiltJSON({"items": rows, "next_cursor": page.next_cursor})

    searched = ", ".join(data_type.search_fields)
    list_of_type.__doc__ = (
        f"{data_type.label} in creation order, `limit` per page (≤ 500); `q` finds the "
        f"records where each of its words begins a word of {searched} (one e-mail "
        "address that a record has finds the records with that address); pass "
        "`next_cursor` back as `cursor` for the next page (422 for any other cursor)."
    )
    return list_of_type


def _getter(data_type: DataType) -> Callable[..., BuiltJSON]:
    def get_of_type(
        record_id: Annotated[str, Path(description="A record's id (uuid).")],
        principal: CurrentPrincipal,
        db: DB,
    ) -> BuiltJSON:
        with db.tenant(principal.organization_id) as conn:
            return BuiltJSON(get_record(conn, data_type, record_id))

    get_of_type.__doc__ = f"One of {data_type.label.lower()} by id (404 when not yours)."
    return get_of_type


for _name, _type in DATA_TYPES.items():
    _record = RECORD_MODELS[_name]
    router.add_api_route(
        f"/{_name}",
        _lister(_type),
        methods=["GET"],
        name=f"{_name}_list",
        response_model=record_page_model(_type, _record),
        responses=problem_responses(422),
    )
    router.add_api_route(
        f"/{_name}/{{record_id}}",
        _getter(_type),
        methods=["GET"],
        name=f"{_name}_get",
        response_model=_record,
        responses=problem_responses(404),
    )
