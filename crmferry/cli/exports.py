"""`crmferry export --type T ...`: run an export now or later, or schedule a recurring one,
as a user, locally (--org/--email) or through a server (--url/--token)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from crmferry.cli.acting import acting_client
from crmferry.cli.context import fail, reports_errors
from crmferry.cli.imports import follow
from crmferry.errors import ValidationFailed
from crmferry.exports.filters import OPS
from crmferry.records import DATA_TYPES

# "field op value": ops are words, so a value may hold spaces ("name contains van der")
FILTER = re.compile(
    r"^\s*(?P<field>\w+)\s+(?P<op>" + "|".join(map(re.escape, OPS)) + r")\b\s*(?P<value>.*)$"
)


def parse_filter(text: str) -> dict[str, Any]:
    """'status eq active', 'quantity gte 10', 'status in lead,customer', 'phone is_null true'."""
    match = FILTER.match(text)
    if not match:
        raise ValidationFailed(
            f"--filter '{text}' is not 'field op value' (op: {' '.join(OPS)}).",
            [{"field": "filter", "message": text}],
        )
    op, value = match["op"], match["value"].strip()
    parsed: Any = value
    if op == "in":
        parsed = [item.strip() for item in value.split(",") if item.strip()]
    elif op == "is_null":
        parsed = value.lower() not in ("false", "0", "no")
    return {"field": match["field"], "op": op, "value": parsed}


@reports_errors
def export_data(
    data_type: str = typer.Option(..., "--type", help="contacts, inventory or bids."),
    fmt: str = typer.Option("csv", "--format", help="csv, xlsx or jsonl."),
    fields: str | None = typer.Option(None, "--fields", help="Comma-separated, in order."),
    filters: list[str] = typer.Option([], "--filter", help="'field op value', repeatable."),
    at: str | None = typer.Option(None, "--at", help="When to run: RFC 3339, or local with --tz."),
    every: str | None = typer.Option(
        None, "--every", help="A cron expression: a recurring export."
    ),
    tz: str | None = typer.Option(None, "--tz", help="IANA time zone of --at or --every."),
    name: str | None = typer.Option(None, "--name", help="The recurring schedule's name."),
    changed_since: str | None = typer.Option(
        None,
        "--changed-since",
        help="Only records changed since: an RFC 3339 time, or 'last_run' (with --every).",
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the file here."),
    wait: bool = typer.Option(False, "--wait", help="Show progress; exit 1 unless it completes."),
    org: str | None = typer.Option(None, "--org", envvar="CRMFERRY_ORG"),
    email: str | None = typer.Option(None, "--email", envvar="CRMFERRY_EMAIL"),
    url: str | None = typer.Option(None, "--url", envvar="CRMFERRY_URL"),
    token: str | None = typer.Option(None, "--token", envvar="CRMFERRY_TOKEN"),
) -> None:
    """Schedule an export (prints the job id) or, with --every, a schedule (prints its id).

    With -o the command waits for the job and writes the file there.
    """
    if data_type not in DATA_TYPES:
        fail(f"--type must be one of {', '.join(DATA_TYPES)}.")
    if every and (at or output or wait):
        fail("--every makes a recurring schedule; it cannot be combined with --at, -o or --wait.")
    options: dict[str, Any] = {"format": fmt, "filters": [parse_filter(f) for f in filters]}
    if fields:
        options["fields"] = [f.strip() for f in fields.split(",") if f.strip()]
    if changed_since:
        options["changed_since"] = changed_since
    with acting_client(org, email, url, token) as client:
        if every:
            schedule = client.create_schedule(
                {
                    "name": name or f"{data_type} export",
                    "job_type": "export",
                    "data_type": data_type,
                    "options": options,
                    "cron": every,
                    "timezone": tz or "UTC",
                    "enabled": True,
                }
            )
            typer.echo(schedule["id"])
            typer.echo(f"next run: {schedule.get('next_run_at')}", err=True)
            return
        job = client.create_job(
            {
                "job_type": "export",
                "data_type": data_type,
                "options": options,
                "scheduled_time": at,
                "timezone": tz,
            }
        )
        typer.echo(job["id"])
        if not (wait or output):
            return
        job = follow(client, job["id"])
        if job["status"] != "completed":
            raise typer.Exit(1)
        if output:
            client.download_result(job["id"], output)
            typer.echo(f"wrote {job['record_count']} records to {output}", err=True)
