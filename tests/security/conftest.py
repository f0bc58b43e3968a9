"""Security test fixtures: a small local HTTP server whose answers a test sets, and the
app served by uvicorn in a thread (for streams and for clients that go away)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.web.app import create_app


@dataclass
class Reply:
    """What a `Site` answers for one path; `drip` sends the body a byte at a time."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip_seconds: float = 0.0


class Site:
    """An HTTP server on a loopback address, in a thread; it records each request's path."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.replies: dict[str, Reply] = {}
        self.paths: list[str] = []
        self.server = ThreadingHTTPServer((host, port), _SiteHandler)
        self.server.daemon_threads = True
        self.server.site = self  # type: ignore[attr-defined]
        self.port = int(self.server.server_address[1])
        self.base = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class _SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        site.paths.append(self.path)
        reply = site.replies.get(self.path, Reply(404, b"no such file"))
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if not reply.drip_seconds:
                self.wfile.write(reply.body)
                return
            for byte in reply.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(reply.drip_seconds)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def make_site() -> Iterator[Callable[..., Site]]:
    """Factory: a `Site` on 127.0.0.1 (or another loopback address and a given port),
    closed afterwards."""
    sites: list[Site] = []

    def make(host: str = "127.0.0.1", port: int = 0) -> Site:
        sites.append(Site(host, port))
        return sites[-1]

    yield make
    for site in sites:
        site.close()


@dataclass
class LiveApp:
    url: str
    settings: Settings


@pytest.fixture
def serve_app(db: Database) -> Iterator[Callable[[Settings], LiveApp]]:
    """Factory: the app for `settings`, served by uvicorn on 127.0.0.1 in a thread."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(settings: Settings) -> LiveApp:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        config = uvicorn.Config(
            create_app(settings, db),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # streams a test left open do not hold it up
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        return LiveApp(f"http://127.0.0.1:{port}", settings)

    yield serve
    for server, _ in servers:
        server.should_exit = True
    for _, thread in servers:
        thread.join(15)


@dataclass
class Served:
    url: str
    app: FastAPI


@pytest.fixture
def served(settings: Settings, db: Database) -> Iterator[Served]:
    """A fresh app on a free port, with the application object itself (a test may add a
    route to it); stopped after the test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    app = create_app(settings, db)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield Served(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(15)
