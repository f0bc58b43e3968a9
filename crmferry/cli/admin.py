"""Operator commands: migrations, organizations, users, tokens."""

from __future__ import annotations

import sys
from uuid import UUID

import typer

from crmferry.accounts import admin
from crmferry.cli.context import database, fail, reports_errors, settings_from
from crmferry.db import migrate
from crmferry.db.database import owner_url, role_passwords

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organizations.", no_args_is_help=True)
users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@db_app.command("upgrade")
@reports_errors
def db_upgrade() -> None:
    """Apply pending migrations (running it twice is a no-op)."""
    settings = settings_from()
    applied = migrate.upgrade(owner_url(settings), role_passwords(settings))
    for name in applied:
        typer.echo(f"applied {name}", err=True)
    typer.echo("database is up to date", err=True)


@orgs_app.command("create")
@reports_errors
def orgs_create(
    name: str,
    currency: str = typer.Option("USD", help="Default currency (ISO 4217) for bids."),
    timezone: str = typer.Option("UTC", help="IANA time zone for file names and schedules."),
) -> None:
    """Create an organization; prints its id alone on stdout."""
    with database(settings_from()) as db, db.owner_connect() as conn:
        typer.echo(admin.create_organization(conn, name, currency.upper(), timezone))


@users_app.command("create")
@reports_errors
def users_create(
    org: UUID = typer.Option(..., "--org", envvar="CRMFERRY_ORG", help="Organization id."),
    email: str = typer.Option(..., "--email"),
    role: str = typer.Option(..., "--role", help="admin, member or viewer."),
    name: str | None = typer.Option(None, "--name"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Add a member to an organization; prints the user id."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin was given but standard input held no password.")
    with database(settings_from()) as db, db.owner_connect() as conn:
        typer.echo(admin.create_user(conn, org, email, role, name=name, password=password))


@tokens_app.command("create")
@reports_errors
def tokens_create(
    org: UUID = typer.Option(..., "--org", envvar="CRMFERRY_ORG"),
    email: str = typer.Option(..., "--email", envvar="CRMFERRY_EMAIL"),
    name: str = typer.Option("", "--name", help="A label to recognise the token by."),
) -> None:
    """Create an API token for a member; prints it alone on stdout (shown once)."""
    with database(settings_from()) as db, db.owner_connect() as conn:
        typer.echo(admin.create_token(conn, org, email, name))
