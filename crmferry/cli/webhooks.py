"""`crmferry webhooks add|list|remove|test|deliveries` and `crmferry audit`: the admins'
webhooks and audit log, locally (--org/--email) or through a server (--url/--token)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Column, Table

from crmferry import audit as audit_log
from crmferry.cli.acting import HttpClient, LocalClient, acting_client
from crmferry.cli.context import reports_errors
from crmferry.cli.jobs import Email, Org, Token, Url
from crmferry.db import Conn
from crmferry.webhooks import deliveries, endpoints

webhooks_app = typer.Typer(help="Webhook endpoints (admins): add, list, remove, test, deliveries.")

Local = Callable[[Conn, LocalClient], Any]


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200)


def _act(
    org: str | None,
    email: str | None,
    url: str | None,
    token: str | None,
    local: Local,
    method: str,
    path: str,
    **http: Any,
) -> Any:
    """Run `local` in a tenant transaction as the member, or call the API."""
    with acting_client(org, email, url, token) as client:
        if isinstance(client, HttpClient):
            return client.call(method, path, **http)
        assert isinstance(client, LocalClient)
        with client.db.tenant(client.principal.organization_id) as conn:
            return local(conn, client)


@webhooks_app.command("add")
@reports_errors
def add(
    endpoint: str = typer.Argument(..., metavar="URL", help="The endpoint to POST events to."),
    events: str = typer.Option(
        "job.completed,job.failed", "--events", help="Comma-separated event types."
    ),
    description: str = typer.Option("", "--description"),
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Add an endpoint; prints its id, then its signing secret (shown this once)."""
    body = {
        "url": endpoint,
        "events": [e.strip() for e in events.split(",") if e.strip()],
        "description": description,
    }

    def local(conn: Conn, client: LocalClient) -> dict[str, Any]:
        row, secret = endpoints.create_webhook(conn, client.principal, client.settings, body)
        return {**endpoints.webhook_json(row), "secret": secret}

    made = _act(org, email, url, token, local, "POST", "/webhooks", json=body)
    typer.echo(made["id"])
    typer.echo(made["secret"])


@webhooks_app.command("list")
@reports_errors
def list_hooks(
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Every endpoint, with its events and whether it is enabled."""

    def local(conn: Conn, client: LocalClient) -> dict[str, Any]:
        rows = endpoints.list_webhooks(conn, client.principal)
        return {"items": [endpoints.webhook_json(r) for r in rows]}

    page = _act(org, email, url, token, local, "GET", "/webhooks")
    table = Table("url", "events", "enabled", "disabled because")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=36))
    for hook in page["items"]:
        table.add_row(
            hook["id"],
            hook["url"],
            ",".join(hook["events"]),
            "yes" if hook["enabled"] else "no",
            hook["disabled_reason"] or "",
        )
    _console().print(table)


@webhooks_app.command("remove")
@reports_errors
def remove(
    webhook_id: str,
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Delete an endpoint and its delivery log."""

    def local(conn: Conn, client: LocalClient) -> None:
        endpoints.delete_webhook(conn, client.principal, webhook_id)

    _act(org, email, url, token, local, "DELETE", f"/webhooks/{webhook_id}")
    typer.echo(f"Removed {webhook_id}.", err=True)


@webhooks_app.command("test")
@reports_errors
def send_test(
    webhook_id: str,
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Queue a webhook.test event for the endpoint; prints the event id (its webhook-id)."""

    def local(conn: Conn, client: LocalClient) -> dict[str, Any]:
        return deliveries.send_test(conn, client.principal, client.settings, webhook_id)

    queued = _act(org, email, url, token, local, "POST", f"/webhooks/{webhook_id}/test")
    typer.echo(queued["event_id"])


@webhooks_app.command("deliveries")
@reports_errors
def list_deliveries(
    webhook_id: str,
    limit: int = typer.Option(50, "--limit", min=1, max=200),
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Every attempt made to the endpoint, newest first."""

    def local(conn: Conn, client: LocalClient) -> dict[str, Any]:
        rows, cursor = deliveries.list_deliveries(conn, client.principal, webhook_id, limit)
        return {"items": [deliveries.delivery_json(r) for r in rows], "next_cursor": cursor}

    page = _act(
        org,
        email,
        url,
        token,
        local,
        "GET",
        f"/webhooks/{webhook_id}/deliveries",
        params={"limit": limit},
    )
    table = Table("when (UTC)", "event", "attempt", "status", "answer", "ms", "next (UTC)")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=36))
    for d in page["items"]:
        answer = f"HTTP {d['response_status']}" if d["response_status"] else d["error"] or ""
        table.add_row(
            d["id"],
            d["created_at"][:19].replace("T", " "),
            d["event_type"],
            str(d["attempt"]),
            d["status"],
            answer[:60],
            "" if d["duration_ms"] is None else str(d["duration_ms"]),
            (d["next_attempt_at"] or "")[:19].replace("T", " "),
        )
    _console().print(table)


@reports_errors
def audit(
    action: str | None = typer.Option(None, "--action", help="e.g. export.downloaded"),
    actor: str | None = typer.Option(None, "--actor", help="A member's e-mail or id."),
    since: str | None = typer.Option(None, "--since", help="RFC 3339, e.g. 2026-01-01T00:00Z"),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """The audit log (admins): who did what, when, newest first."""
    from datetime import datetime

    from crmferry.errors import ValidationFailed

    try:
        when = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
    except ValueError:
        message = "must be an RFC 3339 time such as 2026-01-01T00:00:00Z"
        problem: list[dict[str, object]] = [{"field": "since", "message": message}]
        raise ValidationFailed(f"--since {message}.", problem) from None
    if when is not None and when.tzinfo is None:
        message = "must say its offset (Z or +02:00)"
        raise ValidationFailed(f"--since {message}.", [{"field": "since", "message": message}])
    if action is not None and action not in audit_log.ACTIONS:
        message = f"must be one of {', '.join(audit_log.ACTIONS)}"
        raise ValidationFailed(f"--action {message}.", [{"field": "action", "message": message}])

    def local(conn: Conn, client: LocalClient) -> dict[str, Any]:
        client.principal.require("admin")
        rows, cursor = audit_log.list_entries(
            conn, action=action, actor=actor, since=when, limit=limit
        )
        return {"items": [audit_log.audit_json(r) for r in rows], "next_cursor": cursor}

    params = {"action": action, "actor": actor, "since": when.isoformat() if when else None}
    params = {k: v for k, v in params.items() if v is not None}
    page = _act(org, email, url, token, local, "GET", "/audit", params={**params, "limit": limit})
    table = Table("when (UTC)", "who", "action", "target", "details")
    for entry in page["items"]:
        who = entry["actor"]["email"] or entry["actor"]["name"] or ""
        details = ", ".join(f"{k}={v}" for k, v in entry["details"].items() if v not in (None, ""))
        target = f"{entry['target_type'] or ''} {entry['target_id'] or ''}".strip()
        table.add_row(entry["at"][:19].replace("T", " "), who, entry["action"], target, details)
    _console().print(table)
