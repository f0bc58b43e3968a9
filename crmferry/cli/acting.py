"""Acting as a user from the command line: one client, two transports.

`acting_client(...)` yields a `LocalClient` (with --org/--email: the membership is
looked up with the owner connection, then the same service functions as the
API run under `db.tenant`) or an `HttpClient` (with --url/--token: a running
server's API). Commands written against `ActingClient` work both ways.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import httpx

from crmferry import audit
from crmferry.accounts import admin
from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import (
    Conflict,
    CrmFerryError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    ValidationFailed,
)
from crmferry.jobs import operations
from crmferry.jobs.model import FINISHED, job_json
from crmferry.storage import store_for

POLL_SECONDS = 0.5

Progress = Callable[[dict[str, Any]], None]


class ActingClient(Protocol):
    """What a command may do for its user, locally or over HTTP."""

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def get_job(self, job_id: str) -> dict[str, Any]: ...
    def list_jobs(self, **filters: Any) -> dict[str, Any]: ...
    def cancel_job(self, job_id: str) -> dict[str, Any]: ...
    def delete_job(self, job_id: str) -> None: ...
    def retry_job(self, job_id: str) -> dict[str, Any]: ...
    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def upload(
        self, path: Path, data_type: str | None = None, reading: dict[str, str] | None = None
    ) -> dict[str, Any]: ...
    def upload_batch(self, paths: list[Path]) -> list[dict[str, Any]]: ...
    def download_result(self, job_id: str, target: Path) -> Path: ...
    def wait(self, job_id: str, on_progress: Progress | None = None) -> dict[str, Any]: ...


def wait_for_job(
    client: ActingClient, job_id: str, on_progress: Progress | None = None
) -> dict[str, Any]:
    """Poll until the job is finished, calling `on_progress` with each state; the job."""
    while True:
        job = client.get_job(job_id)
        if on_progress is not None:
            on_progress(job)
        if job["status"] in FINISHED:
            return job
        time.sleep(POLL_SECONDS)


def local_principal(db: Database, organization_id: str, email: str) -> Principal:
    """The member `email` of the organization (looked up as the owner); 404 otherwise."""
    try:
        org = UUID(str(organization_id))
    except ValueError:
        raise NotFound(f"No organization {organization_id}.") from None
    with db.owner_connect() as conn:
        return admin.member_principal(conn, org, email)


class LocalClient:
    """Acts through the service functions, in tenant transactions, as `principal`."""

    def __init__(self, db: Database, settings: Settings, principal: Principal) -> None:
        self.db, self.settings, self.principal = db, settings, principal

    @contextmanager
    def _tenant(self) -> Iterator[Any]:
        with self.db.tenant(self.principal.organization_id) as conn:
            yield conn

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._tenant() as conn:
            return job_json(operations.create_job(conn, self.principal, body, self.settings))

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self._tenant() as conn:
            return job_json(operations.get_job(conn, job_id))

    def list_jobs(self, **filters: Any) -> dict[str, Any]:
        with self._tenant() as conn:
            rows, cursor = operations.list_jobs(conn, **filters)
        return {"items": [job_json(r) for r in rows], "next_cursor": cursor}

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        with self._tenant() as conn:
            row, _ = operations.cancel_job(conn, self.principal, job_id)
        return job_json(row)

    def delete_job(self, job_id: str) -> None:
        with self._tenant() as conn:
            operations.delete_job(conn, self.principal, self.settings, job_id)

    def retry_job(self, job_id: str) -> dict[str, Any]:
        with self._tenant() as conn:
            return job_json(operations.retry_job(conn, self.principal, self.settings, job_id))

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        from crmferry.jobs import schedules

        with self._tenant() as conn:
            row = schedules.create_schedule(conn, self.principal, self.settings, body)
        return schedules.schedule_json(row)

    def upload(
        self, path: Path, data_type: str | None = None, reading: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Store a file as an upload (the imports package's `store_file`), read as
        `reading` (the upload form's `encoding`, `header_row`, `sheet`, `last_row`) says."""
        uploads = importlib.import_module("crmferry.imports.uploads")
        choices = importlib.import_module("crmferry.imports.reading_choices")
        chosen = choices.read_choices_of(reading or {})
        with self._tenant() as conn:
            stored: dict[str, Any] = uploads.store_file(
                conn, self.settings, self.principal, path, data_type, chosen
            )
        return {**stored, "id": str(stored["id"])}

    def upload_batch(self, paths: list[Path]) -> list[dict[str, Any]]:
        """The files as POST /uploads/batch stores them (a ZIP unpacked, checked against
        bombs; all recorded or none), through the same functions."""
        batch = importlib.import_module("crmferry.web.api.batch_uploads")
        uploads = importlib.import_module("crmferry.imports.uploads")
        copies: list[Any] = []
        try:
            for path in paths:
                copy = batch.new_batch_file(
                    self.settings, self.principal.organization_id, path.name[:255]
                )
                copies.append(copy)
                with path.open("rb") as reader:
                    while chunk := reader.read(1 << 20):
                        copy.writer.write(chunk)
                        copy.writer.flush()
                copy.writer.close()
            copies = batch.unbundled(self.settings, self.principal, copies)
            return list(batch.record_all(self.db, self.settings, self.principal, copies))
        except BaseException:
            for copy in copies:  # nothing of a refused batch stays on disk or in the store
                copy.writer.discard()
                uploads.forget_upload(self.settings, copy.relative)
            raise

    def download_result(self, job_id: str, target: Path) -> Path:
        with self._tenant() as conn:
            row = operations.get_job(conn, job_id)
            if not row["result_path"]:
                raise NotFound("This job has no result file.")
            audit.record_download(conn, self.principal, row, "cli")
        with target.open("wb") as writer:
            for chunk in store_for(self.settings).chunks(row["result_path"]):
                writer.write(chunk)
        return target

    def wait(self, job_id: str, on_progress: Progress | None = None) -> dict[str, Any]:
        return wait_for_job(self, job_id, on_progress)


_ERRORS: dict[int, type[CrmFerryError]] = {
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
}


class HttpClient:
    """Acts through a running server's API with a bearer token."""

    def __init__(self, url: str, token: str, timeout: float = 300) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CrmFerryError(f"The server cannot be reached: {exc}.") from None
        if response.is_success:
            return response.json() if response.content else None
        raise_problem(response)

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", "/jobs", json=body))

    def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/jobs/{job_id}"))

    def list_jobs(self, **filters: Any) -> dict[str, Any]:
        params = {k: v for k, v in filters.items() if v is not None}
        return dict(self.call("GET", "/jobs", params=params))

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.call("POST", f"/jobs/{job_id}/cancel"))

    def delete_job(self, job_id: str) -> None:
        self.call("DELETE", f"/jobs/{job_id}")

    def retry_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.call("POST", f"/jobs/{job_id}/retry"))

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", "/schedules", json=body))

    def upload(
        self, path: Path, data_type: str | None = None, reading: dict[str, str] | None = None
    ) -> dict[str, Any]:
        data = {"data_type": data_type} if data_type else {}
        data.update(reading or {})
        with path.open("rb") as content:
            return dict(
                self.call("POST", "/uploads", files={"file": (path.name, content)}, data=data)
            )

    def upload_batch(self, paths: list[Path]) -> list[dict[str, Any]]:
        with ExitStack() as files:
            parts = [("file", (p.name, files.enter_context(p.open("rb")))) for p in paths]
            return list(self.call("POST", "/uploads/batch", files=parts)["items"])

    def download_result(self, job_id: str, target: Path) -> Path:
        with self.http.stream("GET", f"/jobs/{job_id}/result") as response:
            if not response.is_success:
                response.read()
                raise_problem(response)
            with target.open("wb") as writer:
                for chunk in response.iter_bytes():
                    writer.write(chunk)
        return target

    def wait(self, job_id: str, on_progress: Progress | None = None) -> dict[str, Any]:
        return wait_for_job(self, job_id, on_progress)


def raise_problem(response: httpx.Response) -> None:
    """Raise the CrmFerryError a problem+json response stands for."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    detail = str(problem.get("detail") or f"{response.status_code} {response.reason_phrase}")
    error_type = _ERRORS.get(response.status_code, CrmFerryError)
    raise error_type(detail, problem.get("errors") or [])


@contextmanager
def acting_client(
    org: str | None,
    email: str | None,
    url: str | None,
    token: str | None,
    settings: Settings | None = None,
) -> Iterator[ActingClient]:
    """The client for whoever the options name: --url/--token first, else --org/--email."""
    if url and token:
        client = HttpClient(url, token)
        try:
            yield client
        finally:
            client.close()
        return
    if not (org and email):
        message = "Say who acts: --org and --email (locally), or --url and --token (a server)."
        raise ValidationFailed(message, [{"field": "org", "message": message}])
    from crmferry.cli.context import database, settings_from

    settings = settings or settings_from()
    with database(settings) as db:
        yield LocalClient(db, settings, local_principal(db, org, email))
