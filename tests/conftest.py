"""Shared fixtures: a real PostgreSQL (embedded by default, DATABASE_URL when set),
a fresh database per test session, and factories for organizations and members.

Tests isolate by organization: each makes its own, and RLS keeps the rest out of view.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from psycopg import sql

from crmferry.accounts import admin, tokens
from crmferry.config import Settings
from crmferry.db import Database, connect
from crmferry.db.embedded import start_embedded, stop_embedded
from crmferry.db.urls import WORKER_ROLE, with_database
from crmferry.web.app import create_app
from tests.s3server import S3_ENV, new_bucket, s3_server

TEST_SECRET = "test-secret-key-not-for-production-0123456789"
TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server: DATABASE_URL's, or an embedded one in a temporary folder."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    folder = Path(tempfile.mkdtemp(prefix="crmferry-pg-"))
    url = start_embedded(folder)
    yield url
    stop_embedded(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A database made for this test session and dropped after it."""
    name = f"crmferry_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="crmferry-data-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key=TEST_SECRET,
        min_lead_seconds=300,
        login_max_failures=5,
        # the suite's own HTTP servers listen on 127.0.0.1 (CRMFERRY_OUTBOUND_ALLOW)
        outbound_allow="127.0.0.1",
        # Starlette's test client calls itself "testserver"; live servers use 127.0.0.1
        allowed_hosts="testserver,127.0.0.1,localhost",
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 for the session, credentials in the environment."""
    with pytest.MonkeyPatch.context() as env, s3_server() as endpoint:
        for name, value in S3_ENV.items():
            env.setenv(name, value)
        yield endpoint


@dataclass(frozen=True)
class Backend:
    """The file store a test runs on: "local", or "s3" with its own bucket."""

    name: str
    endpoint: str | None = None
    bucket: str | None = None


@pytest.fixture(params=["local", "s3"])
def each_backend(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    """Run the test on the folder store and again on S3 (a new bucket, prefix "files"):
    the shared settings point at it for this test only."""
    if request.param == "local":
        return Backend("local")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = new_bucket(endpoint)
    monkeypatch.setattr(settings, "storage_url", f"s3://{bucket}/files")
    monkeypatch.setattr(settings, "s3_endpoint_url", endpoint)
    return Backend("s3", endpoint, bucket)


@pytest.fixture
def s3_backend(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    """The S3 store only (a new bucket), for tests of what only object storage does."""
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = new_bucket(endpoint)
    monkeypatch.setattr(settings, "storage_url", f"s3://{bucket}/files")
    monkeypatch.setattr(settings, "s3_endpoint_url", endpoint)
    return Backend("s3", endpoint, bucket)


@pytest.fixture
def own_data_dir(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty CRMFERRY_DATA_DIR of this test's own, to see what is left in it."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setattr(settings, "data_dir", folder)
    return folder


@pytest.fixture(scope="session")
def db(settings: Settings) -> Iterator[Database]:
    database = connect(settings, upgrade=True)
    yield database
    database.close()


@pytest.fixture(scope="session")
def worker_db(settings: Settings, db: Database) -> Iterator[Database]:
    """The workers' database: connected as crmferry_worker (after `db` migrated)."""
    database = connect(settings, role=WORKER_ROLE)
    yield database
    database.close()


@pytest.fixture(scope="session")
def app_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db)) as client:
        yield client


@pytest.fixture
def live_url(settings: Settings, db: Database) -> Iterator[str]:
    """The app served by uvicorn in a thread (SSE needs a real streaming server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, db), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@dataclass
class Member:
    user_id: uuid.UUID
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Org:
    id: uuid.UUID
    admin: Member
    member: Member
    viewer: Member


def _make_member(conn: psycopg.Connection, org_id: uuid.UUID, role: str) -> Member:  # type: ignore[type-arg]
    email = f"{role}-{secrets.token_hex(4)}@example.com"
    # only admins get a password: argon2 is slow on purpose, and tests make many members
    password = TEST_PASSWORD if role == "admin" else None
    user_id = admin.create_user(
        conn, org_id, email, role, name=f"{role.title()} User", password=password
    )
    # the tokens primitive, not the operator's command: a fixture leaves the audit log empty
    made = tokens.create_token(conn, org_id, email, "test")
    assert made is not None
    return Member(user_id, email, role, made.token)


@pytest.fixture
def make_org(db: Database):  # type: ignore[no-untyped-def]
    """Factory: a new organization with an admin, a member and a viewer, each with a token."""

    def make(name: str = "Org") -> Org:
        with db.owner_connect() as conn:
            org_id = admin.create_organization(conn, f"{name} {secrets.token_hex(3)}")
            return Org(
                org_id,
                _make_member(conn, org_id, "admin"),
                _make_member(conn, org_id, "member"),
                _make_member(conn, org_id, "viewer"),
            )

    return make


@pytest.fixture
def org(make_org) -> Org:  # type: ignore[no-untyped-def]
    return make_org("Acme")  # type: ignore[no-any-return]


@pytest.fixture
def appended(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The sizes of the second streams' part files appended to CSV exports."""
    from crmferry.exports import split

    sizes: list[int] = []
    append = split._append

    def spy(path: Path, tail: Path) -> None:
        sizes.append(tail.stat().st_size)
        append(path, tail)

    monkeypatch.setattr(split, "_append", spy)
    yield sizes
