"""`crmferry jobs list|show|cancel|delete|retry|revert`: manage jobs as a user, locally
(--org/--email) or through a server (--url/--token)."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Column, Table

from crmferry.cli.acting import HttpClient, LocalClient, acting_client
from crmferry.cli.context import reports_errors

jobs_app = typer.Typer(help="List, inspect, cancel, delete, retry and revert jobs.")


def _console() -> Console:
    """Rich output; piped output is not cut at 80 columns (scripts read the ids)."""
    return Console(width=None if sys.stdout.isatty() else 200)


Org = typer.Option(None, "--org", envvar="CRMFERRY_ORG", help="Organization id (local).")
Email = typer.Option(None, "--email", envvar="CRMFERRY_EMAIL", help="Acting member (local).")
Url = typer.Option(None, "--url", envvar="CRMFERRY_URL", help="A running server.")
Token = typer.Option(None, "--token", envvar="CRMFERRY_TOKEN", help="API token for --url.")


def _progress(job: dict[str, Any]) -> str:
    done, total = job["progress"]["done"], job["progress"]["total"]
    return f"{done}/{total}" if total else str(done or "")


def _counts(job: dict[str, Any]) -> str:
    return ", ".join(f"{v} {k}" for k, v in job["counts"].items() if v)


@jobs_app.command("list")
@reports_errors
def list_jobs(
    status: str | None = typer.Option(None, "--status"),
    job_type: str | None = typer.Option(None, "--type", help="import, export or revert."),
    data_type: str | None = typer.Option(None, "--data-type"),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """The newest jobs first."""
    with acting_client(org, email, url, token) as client:
        page = client.list_jobs(status=status, job_type=job_type, data_type=data_type, limit=limit)
    table = Table("type", "data", "status", "scheduled (UTC)", "progress", "counts", "error")
    # ids stay whole so they can be copied into the next command
    table.columns.insert(0, Column("id", no_wrap=True, min_width=36))
    for job in page["items"]:
        table.add_row(
            job["id"],
            job["job_type"],
            job["data_type"],
            job["status"],
            (job["scheduled_time"] or "")[:19].replace("T", " "),
            _progress(job),
            _counts(job),
            (job["error_message"] or "")[:60],
        )
    _console().print(table)


@jobs_app.command("show")
@reports_errors
def show_job(
    job_id: str,
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Every field of one job."""
    with acting_client(org, email, url, token) as client:
        job = client.get_job(job_id)
    table = Table("field", "value", show_header=False)
    for key, value in job.items():
        table.add_row(key, "" if value is None else str(value))
    _console().print(table)


@jobs_app.command("cancel")
@reports_errors
def cancel_job(
    job_id: str,
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Cancel a pending job, or ask a running one to stop."""
    with acting_client(org, email, url, token) as client:
        job = client.cancel_job(job_id)
    if job["status"] == "cancelled":
        typer.echo(f"Job {job_id} cancelled.")
    else:
        typer.echo(f"Job {job_id} is running; it stops at its next batch.")


@jobs_app.command("delete")
@reports_errors
def delete_job(
    job_id: str,
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Delete a finished job and its files."""
    with acting_client(org, email, url, token) as client:
        client.delete_job(job_id)
    typer.echo(f"Job {job_id} deleted.")


@jobs_app.command("retry")
@reports_errors
def retry_job(
    job_id: str,
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Run a failed or cancelled job again as a new job; prints the new id."""
    with acting_client(org, email, url, token) as client:
        job = client.retry_job(job_id)
    typer.echo(job["id"])


@jobs_app.command("revert")
@reports_errors
def revert_job(
    job_id: str,
    force: bool = typer.Option(False, "--force", help="Even if later imports changed them."),
    org: str | None = Org,
    email: str | None = Email,
    url: str | None = Url,
    token: str | None = Token,
) -> None:
    """Undo a completed import (a new revert job); prints its id."""
    with acting_client(org, email, url, token) as client:
        if isinstance(client, HttpClient):
            job = client.call("POST", f"/jobs/{job_id}/revert", json={"force": force})
        else:
            assert isinstance(client, LocalClient)
            job = _revert_locally(client, job_id, force)
    typer.echo(job["id"])


def _revert_locally(client: LocalClient, job_id: str, force: bool) -> dict[str, Any]:
    from crmferry.imports.revert import check_revertible, create_revert_job

    with client.db.tenant(client.principal.organization_id) as conn:
        target = check_revertible(conn, job_id, force)
        return create_revert_job(conn, client.principal, target, force, client.settings)
