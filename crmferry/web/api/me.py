"""Who am I, and what can I import and export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from crmferry.errors import NotFound
from crmferry.records import DATA_TYPES
from crmferry.web.deps import DB, CurrentPrincipal

router = APIRouter(tags=["account"])


@router.get("/me")
def me(principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """The caller, their role and their organization."""
    with db.tenant(principal.organization_id) as conn:
        org = conn.execute(
            "SELECT id, name, currency, timezone FROM organizations WHERE id = %s",
            [principal.organization_id],
        ).fetchone()
        user = conn.execute(
            "SELECT timezone FROM users WHERE id = %s", [principal.user_id]
        ).fetchone()
    if org is None:
        raise NotFound("Your organization no longer exists.")
    return {
        "id": str(principal.user_id),
        "email": principal.email,
        "name": principal.name,
        "role": principal.role,
        "timezone": (user or {}).get("timezone") or org["timezone"],
        "organization": {k: str(v) for k, v in org.items()},
    }


@router.get("/data-types")
def data_types(principal: CurrentPrincipal) -> list[dict[str, object]]:
    """The importable/exportable types with their fields, types, keys and choices."""
    return [t.as_public() for t in DATA_TYPES.values()]
