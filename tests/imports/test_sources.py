"""Import schedules with a URL source: each run downloads the file from a local HTTP
server, stores it as an upload and imports it; every way the download or the file can
go wrong fails the job with a message that says which, and leaves nothing behind."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.firing import fire_schedule
from crmferry.jobs.schedules import create_schedule
from tests.conftest import Org
from tests.imports.conftest import principal_of
from tests.jobrun import run_job
from tests.stored import read_stored, stored_keys

pytestmark = pytest.mark.usefixtures("each_backend")

FILES = Path(__file__).parent / "files"

CONTACTS = b"""First Name,Last Name,E-mail,Phone,Company
Ann,Lee,ann@example.com,+1 555 010 0001,Lee Ltd
Bob,Ray,bob@example.com,555-010-0002,Ray Co
Cleo,Diaz,cleo@example.com,,Diaz SA
"""

MAPPING = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "E-mail": "email",
    "Phone": "phone",
    "Company": "company",
}


@dataclass
class Answer:
    """What the feed server answers for one path."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_length: bool = True  # False: the body simply ends when the connection closes


class Feed:
    """A local HTTP server (a thread on 127.0.0.1) answering what a test sets per path."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
        self.server.daemon_threads = True
        self.server.feed = self  # type: ignore[attr-defined]
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path


class _FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        feed: Feed = self.server.feed  # type: ignore[attr-defined]
        feed.requests.append({"path": self.path, "user_agent": self.headers["User-Agent"] or ""})
        answer = feed.answers.get(self.path, Answer(404, b"no such file"))
        time.sleep(answer.delay)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.content_length:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        # the client may stop reading (the size limit): as intended
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def feed() -> Iterator[Feed]:
    served = Feed()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()
    thread.join(5)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def make_schedule(
    db: Database, settings: Settings, org: Org, url: str, mapping: dict[str, Any] | None
) -> str:
    body = {
        "name": "Contacts feed",
        "job_type": "import",
        "data_type": "contacts",
        "options": {"mode": "upsert"},
        "mapping": mapping,
        "source": {"type": "url", "url": url},
        "cron": "0 6 * * *",
        "timezone": "UTC",
    }
    with db.tenant(org.id) as conn:
        row = create_schedule(conn, principal_of(org, org.member), settings, body)
    return str(row["id"])


def fire_and_run(db: Database, settings: Settings, org: Org, schedule_id: str) -> dict[str, Any]:
    """One run of the schedule now (its occurrence's job), run as a worker runs it."""
    with db.tenant(org.id) as conn:
        job = fire_schedule(conn, settings, schedule_id, now_please=True)
    assert job is not None and job["upload_id"] is None
    return run_job(db, settings, org.id, job["id"])


def uploads_of(db: Database, org: Org) -> list[dict[str, Any]]:
    with db.tenant(org.id) as conn:
        return conn.execute("SELECT * FROM uploads").fetchall()


def stored_files(settings: Settings, org: Org) -> list[str]:
    return stored_keys(settings, f"uploads/{org.id}")


def contacts_of(db: Database, org: Org) -> list[dict[str, Any]]:
    with db.tenant(org.id) as conn:
        return conn.execute(
            "SELECT name, email, phone, company, import_job_id FROM contacts ORDER BY email"
        ).fetchall()


def test_a_run_downloads_the_file_stores_it_as_an_upload_and_imports_its_rows(
    app_client: TestClient, db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    feed.answers["/exports/contacts.csv"] = Answer(body=CONTACTS)
    url = feed.url("/exports/contacts.csv")
    schedule_id = make_schedule(db, settings, org, url, MAPPING)
    fired = app_client.post(f"/api/v1/schedules/{schedule_id}/run", headers=org.member.headers)
    assert fired.status_code == 201, fired.text
    job = run_job(db, settings, org.id, fired.json()["id"])

    assert job["status"] == "completed", job["error_message"]
    assert job["counts"] == {"inserted": 3, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    assert job["record_count"] == 3
    assert [(c["name"], c["email"], c["company"]) for c in contacts_of(db, org)] == [
        ("Ann Lee", "ann@example.com", "Lee Ltd"),
        ("Bob Ray", "bob@example.com", "Ray Co"),
        ("Cleo Diaz", "cleo@example.com", "Diaz SA"),
    ]
    assert {c["import_job_id"] for c in contacts_of(db, org)} == {job["id"]}
    (upload,) = uploads_of(db, org)
    assert job["upload_id"] == upload["id"] and job["mapping"] == MAPPING
    assert job["options"]["source"] == {"type": "url", "url": url}
    assert upload["file_name"] == "contacts.csv" and upload["data_type"] == "contacts"
    assert upload["created_by"] == org.member.user_id
    assert upload["size_bytes"] == len(CONTACTS)
    assert upload["sha256"] == hashlib.sha256(CONTACTS).hexdigest()
    assert read_stored(settings, upload["storage_path"]) == CONTACTS
    assert stored_files(settings, org) == [upload["storage_path"]]
    (request,) = feed.requests
    assert request["user_agent"].startswith("crmferry/")


def test_without_a_mapping_the_suggested_one_is_used_and_kept_on_the_job(
    db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    feed.answers["/people.csv"] = Answer(
        body=b"Full Name,Email Address,Mobile\nAnn Lee,ann@example.com,+1 555 010 0001\n"
    )
    schedule_id = make_schedule(db, settings, org, feed.url("/people.csv"), None)
    job = fire_and_run(db, settings, org, schedule_id)
    assert job["status"] == "completed", job["error_message"]
    assert job["mapping"] == {"Full Name": "name", "Email Address": "email", "Mobile": "phone"}
    assert job["counts"]["inserted"] == 1
    (contact,) = contacts_of(db, org)
    assert (contact["name"], contact["email"], contact["phone"]) == (
        "Ann Lee",
        "ann@example.com",
        "+1 555 010 0001",
    )


def test_redirects_are_followed_and_each_run_downloads_the_file_again(
    db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    feed.answers["/latest"] = Answer(302, headers={"Location": "/2026/contacts.csv"})
    feed.answers["/2026/contacts.csv"] = Answer(body=CONTACTS)
    schedule_id = make_schedule(db, settings, org, feed.url("/latest"), MAPPING)
    first = fire_and_run(db, settings, org, schedule_id)
    assert first["status"] == "completed", first["error_message"]
    assert first["counts"]["inserted"] == 3
    feed.answers["/2026/contacts.csv"] = Answer(body=CONTACTS.replace(b"Ray Co", b"Ray Group"))
    second = fire_and_run(db, settings, org, schedule_id)
    assert second["status"] == "completed", second["error_message"]
    assert (second["counts"]["updated"], second["counts"]["unchanged"]) == (1, 2)
    assert [r["path"] for r in feed.requests] == ["/latest", "/2026/contacts.csv"] * 2
    assert len(uploads_of(db, org)) == 2 and first["upload_id"] != second["upload_id"]


FAILURES: list[tuple[str, Answer | None, str]] = [
    ("/gone.csv", None, "The source {url} answered 404 Not Found."),
    (
        "/broken.csv",
        Answer(500, b"oops"),
        "The source {url} answered 500 Internal Server Error.",
    ),
    (
        "/loop",
        Answer(302, headers={"Location": "/loop"}),
        "The source {url} redirected more than 5 times.",
    ),
    (
        "/slow.csv",
        Answer(body=CONTACTS, delay=2.0),
        "The source {url} timed out: no data for 0.5 s (CRMFERRY_FETCH_TIMEOUT_SECONDS).",
    ),
    (
        "/huge.csv",
        Answer(body=CONTACTS * 400, content_length=False),
        "The source {url} sent more than the limit of 4,096 bytes "
        "(CRMFERRY_MAX_UPLOAD_BYTES); the download was stopped there.",
    ),
    (
        "/declared-huge.csv",
        Answer(body=CONTACTS * 400),
        f"The source {{url}} announced {len(CONTACTS) * 400:,} bytes, more than the limit "
        "of 4,096 bytes (CRMFERRY_MAX_UPLOAD_BYTES); nothing was downloaded.",
    ),
    (
        "/logo.png",
        Answer(body=(FILES / "not_text.png").read_bytes()),
        "The file from {url} cannot be imported. This is a PNG image, not a CSV, XLSX, XLS, ODS or JSON Lines file.",
    ),
    (
        "/renamed.csv",
        Answer(body=CONTACTS.replace(b"E-mail", b"Email Address")),
        "The file from {url} does not fit the schedule's mapping. The column mapping cannot "
        "be used: the file has no column 'E-mail'.",
    ),
]


@pytest.mark.parametrize(
    ("path", "answer", "message"), FAILURES, ids=[p.strip("/") for p, _, _ in FAILURES]
)
def test_a_failed_download_or_unusable_file_fails_the_job_saying_why_and_keeps_nothing(
    db: Database,
    settings: Settings,
    org: Org,
    feed: Feed,
    path: str,
    answer: Answer | None,
    message: str,
) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 4096, "fetch_timeout_seconds": 0.5})
    if answer is not None:
        feed.answers[path] = answer
    url = feed.url(path)
    job = fire_and_run(db, small, org, make_schedule(db, small, org, url, MAPPING))
    assert job["status"] == "failed"
    assert job["error_message"] == message.format(url=url)
    assert_nothing_kept(db, settings, org, job)


def test_a_refused_connection_fails_the_job_and_keeps_nothing(
    db: Database, settings: Settings, org: Org
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/contacts.csv"
    job = fire_and_run(db, settings, org, make_schedule(db, settings, org, url, MAPPING))
    assert job["status"] == "failed"
    assert job["error_message"] == f"The source {url} could not be reached."
    assert_nothing_kept(db, settings, org, job)


def test_an_unknown_host_fails_the_job_as_unreachable(
    db: Database, settings: Settings, org: Org
) -> None:
    url = "http://feeds.crmferry.invalid/contacts.csv"  # .invalid never resolves (RFC 6761)
    job = fire_and_run(db, settings, org, make_schedule(db, settings, org, url, MAPPING))
    assert job["status"] == "failed"
    assert job["error_message"] == f"The source {url} could not be reached."
    assert_nothing_kept(db, settings, org, job)


def test_a_file_the_suggested_mapping_cannot_import_fails_naming_the_missing_field(
    db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    feed.answers["/phones.csv"] = Answer(body=b"Phone,Company\n555-010-0002,Ray Co\n")
    url = feed.url("/phones.csv")
    job = fire_and_run(db, settings, org, make_schedule(db, settings, org, url, None))
    assert job["status"] == "failed"
    assert job["error_message"].startswith(
        f"The file from {url} does not fit the suggested mapping. The column mapping cannot "
        "be used: the required field 'name' (Name) is not mapped"
    )
    assert_nothing_kept(db, settings, org, job)


def test_a_failed_run_retried_after_the_source_is_fixed_downloads_and_completes(
    app_client: TestClient, db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    url = feed.url("/contacts.csv")
    failed = fire_and_run(db, settings, org, make_schedule(db, settings, org, url, MAPPING))
    assert failed["status"] == "failed" and "404 Not Found" in failed["error_message"]
    feed.answers["/contacts.csv"] = Answer(body=CONTACTS)
    retried = app_client.post(f"/api/v1/jobs/{failed['id']}/retry", headers=org.member.headers)
    assert retried.status_code == 201, retried.text
    job = run_job(db, settings, org.id, retried.json()["id"])
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 3 and job["upload_id"] is not None
    assert len(contacts_of(db, org)) == 3


def assert_nothing_kept(db: Database, settings: Settings, org: Org, job: dict[str, Any]) -> None:
    """No upload row, no stored (or partial) file, no records, no upload on the job."""
    assert "Traceback" not in job["error_message"]
    assert job["upload_id"] is None
    assert uploads_of(db, org) == []
    assert stored_files(settings, org) == []
    assert contacts_of(db, org) == []


def test_a_gzip_download_is_decompressed_on_the_fly_by_its_bytes(
    db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    import gzip

    feed.answers["/feed/contacts.csv.gz"] = Answer(body=gzip.compress(CONTACTS))
    feed.answers["/feed/latest"] = Answer(body=gzip.compress(CONTACTS))  # no .gz: the bytes tell
    for path in ("/feed/contacts.csv.gz", "/feed/latest"):
        schedule_id = make_schedule(db, settings, org, feed.url(path), MAPPING)
        job = fire_and_run(db, settings, org, schedule_id)
        assert job["status"] == "completed", job["error_message"]
    first, second = sorted(uploads_of(db, org), key=lambda u: u["created_at"])
    assert (first["file_name"], second["file_name"]) == ("contacts.csv", "latest")
    assert read_stored(settings, first["storage_path"]) == CONTACTS
    assert first["size_bytes"] == len(CONTACTS) == second["size_bytes"]


def test_a_gzip_bomb_from_a_url_stops_at_the_decompressed_limit(
    db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    import gzip

    feed.answers["/bomb.csv.gz"] = Answer(body=gzip.compress(CONTACTS + b"0" * 5_000_000))
    limited = settings.model_copy(update={"max_decompressed_bytes": 100_000})
    url = feed.url("/bomb.csv.gz")
    schedule_id = make_schedule(db, limited, org, url, MAPPING)
    job = fire_and_run(db, limited, org, schedule_id)
    assert job["status"] == "failed"
    assert job["error_message"] == (
        f"The file from {url} is refused. The file decompresses to more than the limit of "
        "100,000 bytes (CRMFERRY_MAX_DECOMPRESSED_BYTES); decompression was stopped there."
    )
    assert uploads_of(db, org) == [] and stored_files(settings, org) == []
