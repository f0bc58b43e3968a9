"""`crmferry import FILE --type T ...`: upload a file and schedule its import as a user,
locally (--org/--email) or through a server (--url/--token); `--wait` follows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crmferry.cli.acting import ActingClient, acting_client
from crmferry.cli.context import fail, reports_errors
from crmferry.errors import ValidationFailed
from crmferry.records import DATA_TYPES


def parse_map(pairs: list[str]) -> dict[str, str | None]:
    """'Column=field' pairs ('Column=' leaves the column out) → a mapping.
    The last '=' splits, so a header may itself contain '='."""
    mapping: dict[str, str | None] = {}
    for pair in pairs:
        header, sep, field = pair.rpartition("=")
        if not sep or not header:
            raise ValidationFailed(
                f"--map '{pair}' is not 'Column=field'.", [{"field": "map", "message": pair}]
            )
        mapping[header.strip()] = field.strip() or None
    return mapping


@reports_errors
def import_file(
    files: list[Path] = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="CSV (TSV, TXT), XLSX, XLS, ODS or JSON Lines, told from the content.",
    ),
    data_type: str | None = typer.Option(
        None, "--type", help="contacts, inventory, bids or bid_items (not with --batch)."
    ),
    batch: bool = typer.Option(
        False,
        "--batch",
        help="Import every FILE as one job in one transaction, each typed and mapped from "
        "its headers, in the order of their links; all or nothing.",
    ),
    mapping: list[str] = typer.Option(
        [], "--map", help="'Column=field', repeatable; default: the suggested mapping."
    ),
    mode: str | None = typer.Option(None, "--mode", help="insert, update or upsert (default)."),
    on_error: str | None = typer.Option(None, "--on-error", help="skip (default) or abort."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count, write nothing."),
    date_format: str | None = typer.Option(
        None, "--date-format", help="auto (default), YYYY-MM-DD, MM/DD/YYYY or DD/MM/YYYY."
    ),
    decimal: str | None = typer.Option(None, "--decimal", help="'.' (default) or ','."),
    template: str | None = typer.Option(None, "--template", help="A saved import template id."),
    encoding: str | None = typer.Option(
        None, "--encoding", help="Read the text file in this encoding (default: detected)."
    ),
    header_row: int | None = typer.Option(
        None, "--header-row", min=1, help="The header's row number (default: detected)."
    ),
    sheet: str | None = typer.Option(
        None, "--sheet", help="The workbook's sheet (default: the first visible one)."
    ),
    last_row: int | None = typer.Option(
        None,
        "--last-row",
        min=1,
        help="The last data row's number: rows after it (a report's footer) are left out "
        "(default: detected).",
    ),
    at: str | None = typer.Option(None, "--at", help="When to run: RFC 3339, or local with --tz."),
    tz: str | None = typer.Option(None, "--tz", help="IANA time zone of a local --at."),
    wait: bool = typer.Option(False, "--wait", help="Show progress; exit 1 unless it completes."),
    org: str | None = typer.Option(None, "--org", envvar="CRMFERRY_ORG"),
    email: str | None = typer.Option(None, "--email", envvar="CRMFERRY_EMAIL"),
    url: str | None = typer.Option(None, "--url", envvar="CRMFERRY_URL"),
    token: str | None = typer.Option(None, "--token", envvar="CRMFERRY_TOKEN"),
) -> None:
    """Upload FILE (with --batch: every FILE) and schedule its import; prints the job id
    alone on stdout."""
    if batch:
        if data_type or mapping or template:
            fail(
                "--batch types and maps each file from its headers: leave out --type, --map "
                "and --template."
            )
        item_options = {"mode": mode} if mode else {}
        batch_options: dict[str, Any] = {"on_error": on_error} if on_error else {}
        if dry_run:
            batch_options["dry_run"] = True
        with acting_client(org, email, url, token) as client:
            # through POST /uploads/batch: a ZIP among the files is unpacked there
            items = [
                {"upload_id": str(u["id"]), "options": item_options}
                for u in client.upload_batch(files)
            ]
            job = client.create_job(
                {
                    "job_type": "import_batch",
                    "items": items,
                    "options": batch_options,
                    "scheduled_time": at,
                    "timezone": tz,
                }
            )
            typer.echo(job["id"])
            if wait:
                job = follow(client, job["id"])
        if wait and job["status"] != "completed":
            raise typer.Exit(1)
        return
    if len(files) != 1:
        fail("Give one FILE, or several with --batch.")
    file = files[0]
    if data_type not in DATA_TYPES:
        fail(f"--type must be one of {', '.join(DATA_TYPES)}.")
    options: dict[str, Any] = {
        key: value
        for key, value in {
            "mode": mode,
            "on_error": on_error,
            "date_format": date_format,
            "decimal": decimal,
        }.items()
        if value is not None
    }
    if dry_run:
        options["dry_run"] = True
    body: dict[str, Any] = {
        "job_type": "import",
        "data_type": data_type,
        "options": options,
        "scheduled_time": at,
        "timezone": tz,
    }
    if template:
        body["template_id"] = template
    given = parse_map(mapping)
    reading = {
        "encoding": encoding,
        "header_row": header_row,
        "sheet": sheet,
        "last_row": last_row,
    }
    chosen = {key: str(value) for key, value in reading.items() if value is not None}
    with acting_client(org, email, url, token) as client:
        upload = client.upload(file, data_type, chosen)
        if given or template:
            body["mapping"] = given or None
        else:
            body["mapping"] = _suggested(upload, str(data_type))
            # the value maps that go with the suggestion (HubSpot stages → our statuses)
            value_maps = (upload.get("suggested_options") or {}).get("value_maps")
            if value_maps:
                body["options"] = {"value_maps": value_maps, **body["options"]}
        job = client.create_job({**body, "upload_id": str(upload["id"])})
        typer.echo(job["id"])
        if wait:
            job = follow(client, job["id"])
    if wait and job["status"] != "completed":
        raise typer.Exit(1)


def _suggested(upload: dict[str, Any], data_type: str) -> dict[str, str | None]:
    """The server's suggestion, or (a local upload) the same function's."""
    if upload.get("suggested_mapping"):
        return dict(upload["suggested_mapping"])
    from crmferry.imports.mapping import suggest_mapping

    return suggest_mapping(DATA_TYPES[data_type], list(upload["headers"]))


def follow(client: ActingClient, job_id: str) -> dict[str, Any]:
    """A progress bar on stderr until the job finishes; then its counts and message."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("pending", total=None)

        def show(job: dict[str, Any]) -> None:
            progress = job.get("progress") or {}
            bar.update(
                task,
                description=job["status"],
                completed=progress.get("done") or 0,
                total=progress.get("total"),
            )

        job = client.wait(job_id, show)
    counts = ", ".join(f"{k} {v}" for k, v in (job.get("counts") or {}).items())
    # plain text, unwrapped: messages quote user data (no Rich markup) and scripts grep them
    console.print(f"{job['status']}: {counts}", markup=False, soft_wrap=True)
    for item in job.get("items") or []:
        done = ", ".join(f"{k} {v}" for k, v in item["counts"].items())
        console.print(f"  {item['file_name']} ({item['data_type']}): {done}", markup=False)
    if job.get("error_message"):
        console.print(job["error_message"], markup=False, soft_wrap=True)
    return job
