"""Contacts, Inventory and Bids: searchable, paginated tables to check what an import did."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crmferry.errors import NotFound
from crmferry.records import DATA_TYPES
from crmferry.records.listing import COUNT_LIMIT, PAGE_SIZE, count_records, list_records
from crmferry.web.deps import DB, CurrentPrincipal
from crmferry.web.pages.rendering import load_shell, render

router = APIRouter(include_in_schema=False)


@router.get("/records/{type_name}")
def records(
    request: Request,
    type_name: str,
    principal: CurrentPrincipal,
    db: DB,
    q: str = "",
    cursor: str | None = None,
) -> Response:
    """A page of the type's records (the API's listing: creation order, the same search)."""
    data_type = DATA_TYPES.get(type_name)
    if data_type is None:
        raise NotFound(f"There is no data type '{type_name}'.")
    with db.tenant(principal.organization_id) as conn:
        page = list_records(conn, data_type, q, PAGE_SIZE, cursor)
        total = None if q.strip() else count_records(conn, data_type)
    return render(
        request,
        "pages/records.html",
        principal,
        shell=load_shell(db, principal),
        active=data_type.name,
        data_type=data_type,
        page=page,
        total=total,
        total_is_limit=total is not None and total >= COUNT_LIMIT,
        q=q,
        cursor=cursor,
    )
