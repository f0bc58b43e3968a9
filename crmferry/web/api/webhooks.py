"""Webhooks (admins only): /webhooks CRUD, rotate-secret, test, deliveries and replay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from crmferry.web.api.models.base import BlankIsNone, Cursor
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.api.models.webhooks import (
    DeliveryPage,
    Queued,
    Webhook,
    WebhookChanges,
    WebhookList,
    WebhookRequest,
    WebhookWithSecret,
)
from crmferry.web.deps import DB, AdminPrincipal, AppSettings
from crmferry.webhooks import deliveries, endpoints

router = APIRouter(tags=["webhooks"])

WebhookId = Annotated[str, Path(description="A webhook's id (uuid).")]
DeliveryId = Annotated[str, Path(description="A delivery attempt's id (uuid).")]


@router.post(
    "/webhooks",
    status_code=201,
    name="webhooks_create",
    response_model=WebhookWithSecret,
    responses=problem_responses(403, 422),
)
def create_webhook(
    body: Annotated[WebhookRequest, Body()],
    principal: AdminPrincipal,
    db: DB,
    settings: AppSettings,
) -> dict[str, Any]:
    """201 with the signing secret (`whsec_…`), shown this once; 422 for a URL the
    outbound guard refuses or an unknown event type."""
    with db.tenant(principal.organization_id) as conn:
        row, secret = endpoints.create_webhook(conn, principal, settings, body.plain())
    return {**endpoints.webhook_json(row), "secret": secret}


@router.get(
    "/webhooks", name="webhooks_list", response_model=WebhookList, responses=problem_responses(403)
)
def list_webhooks(principal: AdminPrincipal, db: DB) -> dict[str, Any]:
    """Every endpoint of the organization, oldest first (never a secret)."""
    with db.tenant(principal.organization_id) as conn:
        rows = endpoints.list_webhooks(conn, principal)
    return {"items": [endpoints.webhook_json(r) for r in rows]}


@router.get(
    "/webhooks/{webhook_id}",
    name="webhooks_get",
    response_model=Webhook,
    responses=problem_responses(403, 404),
)
def get_webhook(webhook_id: WebhookId, principal: AdminPrincipal, db: DB) -> dict[str, Any]:
    with db.tenant(principal.organization_id) as conn:
        return endpoints.webhook_json(endpoints.get_webhook(conn, principal, webhook_id))


@router.patch(
    "/webhooks/{webhook_id}",
    name="webhooks_update",
    response_model=Webhook,
    responses=problem_responses(403, 404, 422),
)
def update_webhook(
    webhook_id: WebhookId,
    body: Annotated[WebhookChanges, Body()],
    principal: AdminPrincipal,
    db: DB,
    settings: AppSettings,
) -> dict[str, Any]:
    """Change url, events, description or enabled; re-enabling clears the reason."""
    changes = {k: v for k, v in body.plain().items() if v is not None}
    with db.tenant(principal.organization_id) as conn:
        row = endpoints.update_webhook(conn, principal, settings, webhook_id, changes)
    return endpoints.webhook_json(row)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    name="webhooks_delete",
    response_class=Response,
    responses=problem_responses(403, 404),
)
def delete_webhook(webhook_id: WebhookId, principal: AdminPrincipal, db: DB) -> Response:
    """204; its delivery log goes with it."""
    with db.tenant(principal.organization_id) as conn:
        endpoints.delete_webhook(conn, principal, webhook_id)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    name="webhooks_rotate_secret",
    response_model=WebhookWithSecret,
    responses=problem_responses(403, 404),
)
def rotate_secret(
    webhook_id: WebhookId, principal: AdminPrincipal, db: DB, settings: AppSettings
) -> dict[str, Any]:
    """A new secret (shown once); the old one signs beside it until
    `previous_secret_until` (24 hours)."""
    with db.tenant(principal.organization_id) as conn:
        row, secret = endpoints.rotate_secret(conn, principal, settings, webhook_id)
    return {**endpoints.webhook_json(row), "secret": secret}


@router.post(
    "/webhooks/{webhook_id}/test",
    status_code=202,
    name="webhooks_test",
    response_model=Queued,
    responses=problem_responses(403, 404),
)
def test_webhook(
    webhook_id: WebhookId, principal: AdminPrincipal, db: DB, settings: AppSettings
) -> dict[str, Any]:
    """202: a `webhook.test` event is queued for this endpoint (one attempt; see its
    deliveries)."""
    with db.tenant(principal.organization_id) as conn:
        return deliveries.send_test(conn, principal, settings, webhook_id)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    name="webhooks_deliveries",
    response_model=DeliveryPage,
    responses=problem_responses(403, 404, 422),
)
def list_deliveries(
    webhook_id: WebhookId,
    principal: AdminPrincipal,
    db: DB,
    limit: int = Query(default=50, ge=1, le=deliveries.MAX_PAGE),
    cursor: Annotated[Cursor | None, BlankIsNone] = None,
) -> dict[str, Any]:
    """Every attempt, newest first."""
    with db.tenant(principal.organization_id) as conn:
        rows, next_cursor = deliveries.list_deliveries(conn, principal, webhook_id, limit, cursor)
    return {"items": [deliveries.delivery_json(r) for r in rows], "next_cursor": next_cursor}


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    name="webhooks_replay",
    response_model=Queued,
    responses=problem_responses(403, 404, 409),
)
def replay_delivery(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    principal: AdminPrincipal,
    db: DB,
    settings: AppSettings,
) -> dict[str, Any]:
    """202: that attempt's event is sent again now (same `webhook-id`); 409 while the
    endpoint is disabled."""
    with db.tenant(principal.organization_id) as conn:
        return deliveries.replay_delivery(conn, principal, settings, webhook_id, delivery_id)
