"""Running the service: `up` (everything), `serve` (web/API) and `worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import typer
import uvicorn
from rich.console import Console

from crmferry.accounts.demo import seed_demo_if_empty
from crmferry.cli.context import reports_errors, settings_from
from crmferry.config import Settings
from crmferry.db import connect
from crmferry.db.embedded import embedded_running, stop_embedded
from crmferry.jobs.kinds import load_plugins
from crmferry.jobs.worker import run_worker
from crmferry.storage import store_for
from crmferry.web.app import create_app
from crmferry.web.long_lived import freeze_long_lived

console = Console(stderr=True)

DataDir = typer.Option(
    None,
    "--data-dir",
    envvar="CRMFERRY_DATA_DIR",
    help="Where the embedded database and files live.",
)


@reports_errors
def up(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    data_dir: str | None = DataDir,
    workers: int = typer.Option(1, "--workers", min=0, help="Worker processes to start."),
) -> None:
    """Migrations, embedded PostgreSQL (without DATABASE_URL), the server and N workers."""
    settings = settings_from(data_dir)
    store_for(settings).check()
    started_embedded = settings.database_url is None and not embedded_running(settings.data_dir)
    db = connect(settings, upgrade=True)
    with db.owner_connect() as conn:
        demo = seed_demo_if_empty(conn)
    db.close()
    url = f"http://{host}:{port}/"
    console.print(f"CRM Ferry is starting on [bold]{url}[/bold]")
    if demo:
        console.print("A demo organization was created. Sign in with:")
        console.print(f"  e-mail:   [bold]{demo.email}[/bold]")
        console.print(f"  password: [bold]{demo.password}[/bold]")
    children = _spawn_children(settings, host, port, workers)
    _wait_for_stop(children)
    _stop_children(children, settings.shutdown_grace_seconds + 5)
    if started_embedded:
        stop_embedded(settings.data_dir)
    console.print("CRM Ferry stopped.")


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["CRMFERRY_DATA_DIR"] = str(settings.data_dir.resolve())
    env["CRMFERRY_SECRET_KEY"] = settings.secret_key
    return env


def _spawn_children(
    settings: Settings, host: str, port: int, workers: int
) -> list[subprocess.Popen[bytes]]:
    python = [sys.executable, "-m", "crmferry"]
    env = _child_env(settings)
    children = [subprocess.Popen([*python, "serve", "--host", host, "--port", str(port)], env=env)]
    children += [subprocess.Popen([*python, "worker"], env=env) for _ in range(workers)]
    return children


def _wait_for_stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Block until SIGINT/SIGTERM, or until a child dies on its own."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        if any(child.poll() is not None for child in children):
            console.print("[red]A CRM Ferry process exited; stopping the others.[/red]")
            return


def _stop_children(children: list[subprocess.Popen[bytes]], timeout: float) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


Plugins = typer.Option(
    [],
    "--plugin",
    envvar="CRMFERRY_PLUGINS",
    help="Module registering job kinds or sources (repeatable; the variable takes a comma list).",
)


@reports_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    processes: int = typer.Option(
        1, "--processes", min=1, help="Server processes sharing the port (one per core)."
    ),
    data_dir: str | None = DataDir,
    plugins: list[str] = Plugins,
) -> None:
    """The web pages and the API (migrations applied first)."""
    load_plugins(plugins)
    settings = settings_from(data_dir)
    store_for(settings).check()
    db = connect(settings, upgrade=True)
    if processes > 1:
        db.close()
        _serve_processes(settings, host, port, processes, plugins)
        return
    app = create_app(settings, db)
    freeze_long_lived()
    try:
        # forwarded headers are trusted by the app itself, from CRMFERRY_TRUSTED_PROXIES only
        uvicorn.run(
            app, host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=False
        )
    finally:
        db.close()


def _serve_processes(
    settings: Settings, host: str, port: int, processes: int, plugins: list[str]
) -> None:
    """`processes` server processes on one socket, each building its application from
    the environment (`crmferry.web.serving`); uvicorn restarts one that dies."""
    os.environ["CRMFERRY_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["CRMFERRY_PLUGINS"] = ",".join(plugins)
    uvicorn.run(
        "crmferry.web.serving:app_from_environment",
        factory=True,
        workers=processes,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
    )


@reports_errors
def worker(
    concurrency: int = typer.Option(1, "--concurrency", min=1, help="Jobs run at once."),
    data_dir: str | None = DataDir,
    plugins: list[str] = Plugins,
) -> None:
    """A worker process: claims due jobs and runs them until SIGTERM/SIGINT."""
    settings = settings_from(data_dir)
    store_for(settings).check()
    connect(settings, upgrade=True).close()
    raise typer.Exit(run_worker(settings, concurrency, plugins))
