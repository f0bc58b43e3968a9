"""Request bodies: authenticated before they are read, bounded while they are read
(also without a Content-Length), and uploads that are malformed, doubled or broken off
leave nothing behind."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from crmferry.accounts.auth import open_session
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.web.app import create_app
from tests.conftest import Org
from tests.security.conftest import LiveApp
from tests.stored import stored_keys

HUGE = 200 * 1024 * 1024
CSV = b"Name,E-mail\nAnn Lee,ann@example.com\n"


def _exchange(base: str, head: str, body: Iterable[bytes] = (), wait: float = 10) -> bytes:
    """Send a request's head and the given part of its body, then read the answer's
    head (the rest of the body is never sent). A socket timeout if none comes."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        try:
            for chunk in body:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what we want
        sock.settimeout(wait)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        with_body = answer
        try:
            while len(with_body) - with_body.find(b"\r\n\r\n") < 2000:
                more = sock.recv(65536)
                if not more:
                    break
                with_body += more
        except (TimeoutError, ConnectionResetError):
            pass
    return with_body


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _problem(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/problem+json" in head.lower(), head
    start = body.find(b"{")
    return json.loads(body[start : body.rfind(b"}") + 1])  # type: ignore[no-any-return]


def test_an_unauthenticated_200_mb_body_is_answered_401_without_being_read(
    settings: Settings, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    head = (
        "POST /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
        f"Content-Length: {HUGE}\n"
    )
    answer = _exchange(app.url, head, [b'{"job_type": "export", "x": "' + b"a" * 65536])
    assert _status(answer) == 401
    assert _problem(answer)["status"] == 401


def test_an_unauthenticated_chunked_body_is_answered_401_without_being_read(
    settings: Settings, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    head = (
        "POST /api/v1/templates HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
        "Transfer-Encoding: chunked\n"
    )
    answer = _exchange(app.url, head, [b"10000\r\n" + b"a" * 0x10000 + b"\r\n"])
    assert _status(answer) == 401


def test_a_cookie_write_without_the_csrf_header_is_refused_before_its_body(
    settings: Settings, db: Database, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    secret = open_session(db, org.id, org.member.user_id, timedelta(minutes=5))
    head = (
        "POST /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
        f"Cookie: crmferry_session={secret}\nContent-Length: {HUGE}\n"
    )
    answer = _exchange(app.url, head, [b"{" + b" " * 65536])
    assert _status(answer) == 403
    assert "X-CSRF-Token" in str(_problem(answer)["detail"])


def test_a_body_over_the_limit_is_a_413_problem(settings: Settings, db: Database, org: Org) -> None:
    small = settings.model_copy(update={"max_body_bytes": 4096})
    client = TestClient(create_app(small, db))
    body = {"job_type": "export", "data_type": "contacts", "options": {"fields": ["x"] * 2000}}
    response = client.post("/api/v1/jobs", json=body, headers=org.member.headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == (
        "The request body is larger than the limit of 4,096 bytes (CRMFERRY_MAX_BODY_BYTES); "
        "it was not read further."
    )
    within = client.post(
        "/api/v1/jobs",
        json={"job_type": "export", "data_type": "contacts", "options": {"format": "csv"}},
        headers=org.member.headers,
    )
    assert within.status_code == 201, within.text


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    settings: Settings, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings.model_copy(update={"max_body_bytes": 65536}))
    head = (
        "POST /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
        f"Authorization: Bearer {org.member.token}\nTransfer-Encoding: chunked\n"
    )
    chunk = b"8000\r\n" + b" " * 0x8000 + b"\r\n"
    # three chunks of 32 KiB and no terminating chunk: the server must not wait for more
    answer = _exchange(app.url, head, [chunk, chunk, chunk])
    assert _status(answer) == 413
    assert "CRMFERRY_MAX_BODY_BYTES" in str(_problem(answer)["detail"])


def test_uploads_keep_their_own_larger_limit(settings: Settings, db: Database, org: Org) -> None:
    small = settings.model_copy(update={"max_body_bytes": 4096})
    client = TestClient(create_app(small, db))
    content = CSV + b"Bo Ray,bo@example.com\n" * 2000  # about 44 KB
    response = client.post(
        "/api/v1/uploads", files={"file": ("big.csv", content)}, headers=org.member.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == len(content)


def _stored(settings: Settings, org: Org) -> list[str]:
    return stored_keys(settings, f"uploads/{org.id}")


def _uploads(db: Database, org: Org) -> int:
    with db.tenant(org.id) as conn:
        row = conn.execute("SELECT count(*) AS n FROM uploads").fetchone()
    assert row is not None
    return int(row["n"])


def _multipart(*parts: tuple[str, str | None, bytes], close: bool = True) -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--B0UNDARY\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += content + b"\r\n"
    return out + (b"--B0UNDARY--\r\n" if close else b"")


MULTIPART = {"Content-Type": "multipart/form-data; boundary=B0UNDARY"}


def test_several_file_parts_are_a_422_and_nothing_is_kept(
    app_client: TestClient, settings: Settings, db: Database, org: Org
) -> None:
    body = _multipart(("file", "a.csv", CSV), ("file", "b.csv", CSV))
    response = app_client.post(
        "/api/v1/uploads", content=body, headers={**org.member.headers, **MULTIPART}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "file", "message": "more than one file part"}]
    assert _stored(settings, org) == [] and _uploads(db, org) == 0


def test_a_multipart_body_without_its_closing_boundary_is_a_422_and_nothing_is_kept(
    app_client: TestClient, settings: Settings, db: Database, org: Org
) -> None:
    body = _multipart(("file", "a.csv", CSV), close=False)
    response = app_client.post(
        "/api/v1/uploads", content=body, headers={**org.member.headers, **MULTIPART}
    )
    assert response.status_code == 422
    assert "closing boundary" in response.json()["detail"]
    assert _stored(settings, org) == [] and _uploads(db, org) == 0


def test_an_upload_the_client_aborts_leaves_nothing_on_disk(
    settings: Settings, db: Database, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    parts = urlsplit(app.url)
    opening = (
        b'--B0UNDARY\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        + CSV
        + b"Bo Ray,bo@example.com\n" * 5000
    )
    head = (
        "POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {org.member.token}\r\n"
        "Content-Type: multipart/form-data; boundary=B0UNDARY\r\n"
        f"Content-Length: {len(opening) * 10}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(head.encode() + opening)
        deadline = time.monotonic() + 20
        while not _stored(settings, org) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _stored(settings, org), "the server did not start storing the upload"
    # the client is gone with nine tenths of the body unsent
    deadline = time.monotonic() + 20
    while _stored(settings, org) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _stored(settings, org) == []
    assert _uploads(db, org) == 0
