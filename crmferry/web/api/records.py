"""GET /contacts, /inventory, /bids and /{type}/{id}: read what imports wrote (any role)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query

from crmferry.records import DATA_TYPES, DataType
from crmferry.records.listing import get_record, list_records, public_record
from crmferry.web.deps import DB, CurrentPrincipal

router = APIRouter(tags=["records"])


def _lister(data_type: DataType) -> Callable[..., dict[str, Any]]:
    def list_of_type(
        principal: CurrentPrincipal,
        db: DB,
        q: str | None = Query(default=None, max_length=200),
        limit: int = Query(default=50, ge=1, le=500),
        cursor: str | None = None,
    ) -> dict[str, Any]:
        with db.tenant(principal.organization_id) as conn:
            page = list_records(conn, data_type, q, limit, cursor)
        return {"items": [public_record(r) for r in page.rows], "next_cursor": page.next_cursor}

    searched = ", ".join(data_type.search_fields)
    list_of_type.__doc__ = (
        f"{data_type.label} in creation order, `limit` per page (≤ 500); `q` finds the "
        f"records where each of its words begins a word of {searched}; pass "
        "`next_cursor` back as `cursor` for the next page (422 for any other cursor)."
    )
    return list_of_type


def _getter(data_type: DataType) -> Callable[..., dict[str, Any]]:
    def get_of_type(record_id: str, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
        with db.tenant(principal.organization_id) as conn:
            return get_record(conn, data_type, record_id)

    get_of_type.__doc__ = f"One of {data_type.label.lower()} by id (404 when not yours)."
    return get_of_type


for _name, _type in DATA_TYPES.items():
    router.add_api_route(f"/{_name}", _lister(_type), methods=["GET"], name=f"list_{_name}")
    router.add_api_route(
        f"/{_name}/{{record_id}}", _getter(_type), methods=["GET"], name=f"get_{_name}"
    )
