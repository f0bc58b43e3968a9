"""What every command needs: settings, the database, and one place for exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from crmferry.config import Settings, load_settings
from crmferry.db import Database, connect
from crmferry.errors import CrmFerryError, NotFound, ValidationFailed

err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_CODES: dict[type[CrmFerryError], int] = {ValidationFailed: 2, NotFound: 3}


def exit_code_for(exc: CrmFerryError) -> int:
    for kind, code in EXIT_CODES.items():
        if isinstance(exc, kind):
            return code
    return 1


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn CrmFerryError into a message on stderr and a non-zero exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CrmFerryError as exc:
            err_console.print(f"[red]Error:[/red] {exc.detail}")
            for item in exc.errors:
                err_console.print(f"  {item.get('field')}: {item.get('message')}")
            sys.exit(exit_code_for(exc))

    return wrapper


def settings_from(data_dir: str | None = None) -> Settings:
    return load_settings(data_dir=data_dir)


@contextmanager
def database(settings: Settings, upgrade: bool = True) -> Iterator[Database]:
    """A connected Database for one command (migrations applied unless told otherwise)."""
    db = connect(settings, upgrade=upgrade)
    try:
        yield db
    finally:
        db.close()


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[red]Error:[/red] {message}")
    raise typer.Exit(code)
