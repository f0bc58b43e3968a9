"""Import fixtures: upload through the API, create jobs through the kind's prepare,
and run a job in-process on its own tenant transaction the way the engine does
(the data and the job's final status commit together; a failed or cancelled
run keeps none of its data changes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn, Database
from crmferry.errors import JobCancelled
from crmferry.jobs.kinds import JobOutcome, kind_for
from crmferry.records import get_data_type
from tests.conftest import Member, Org

_INSERT_JOB = """
INSERT INTO scheduled_jobs (organization_id, created_by, creator_name, job_type, data_type,
                            scheduled_time, options, mapping, upload_id, file_name,
                            progress_total, reverts_job_id)
VALUES (%s, %s, 'Test', %s, %s, now(), %s, %s, %s, %s, %s, %s)
RETURNING id
"""

_FINISH_JOB = """
UPDATE scheduled_jobs
   SET status = %(status)s, completed_at = now(), counts = coalesce(%(counts)s, counts),
       record_count = %(record_count)s, error_message = %(error_message)s,
       error_report_path = %(report)s
 WHERE id = %(id)s
"""


@dataclass
class InProcessContext:
    """A JobContext on one tenant transaction; `cancel_at` raises JobCancelled at a batch."""

    job: dict[str, Any]
    conn: Conn
    db: Database
    settings: Settings
    cancel_at: int | None = None
    reports: list[tuple[int, int | None]] = field(default_factory=list)

    @property
    def job_id(self) -> uuid.UUID:
        return uuid.UUID(str(self.job["id"]))

    @property
    def organization_id(self) -> uuid.UUID:
        return uuid.UUID(str(self.job["organization_id"]))

    def progress(self, done: int, total: int | None = None) -> None:
        self.reports.append((done, total))
        if self.cancel_at is not None and done >= self.cancel_at:
            raise JobCancelled("cancel requested")

    def files_dir(self) -> Path:
        folder = self.settings.files_dir / "jobs" / str(self.job_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


class _Failed(Exception):
    def __init__(self, outcome: JobOutcome) -> None:
        self.outcome = outcome


def principal_of(org: Org, member: Member) -> Principal:
    return Principal(member.user_id, org.id, member.role, member.email, None, "cli")  # type: ignore[arg-type]


@dataclass
class Importer:
    client: TestClient
    db: Database
    settings: Settings

    def upload(
        self,
        member: Member,
        content: str | bytes,
        name: str = "file.csv",
        data_type: str | None = None,
    ) -> dict[str, Any]:
        data = content.encode() if isinstance(content, str) else content
        form = {"data_type": data_type} if data_type else {}
        response = self.client.post(
            "/api/v1/uploads", headers=member.headers, files={"file": (name, data)}, data=form
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def create(
        self,
        org: Org,
        data_type: str,
        upload_id: str,
        mapping: dict[str, str | None] | None = None,
        **options: Any,
    ) -> uuid.UUID:
        """An import job, checked by the kind's prepare as `POST /jobs` does."""
        body: dict[str, Any] = {"upload_id": upload_id, "mapping": mapping, "options": options}
        return self.create_from_body(org, "import", data_type, body)

    def create_from_body(
        self, org: Org, job_type: str, data_type: str, body: dict[str, Any]
    ) -> uuid.UUID:
        kind = kind_for(job_type)
        with self.db.tenant(org.id) as conn:
            new = kind.prepare(
                conn, principal_of(org, org.member), get_data_type(data_type), body, self.settings
            )
            row = conn.execute(
                _INSERT_JOB,
                [
                    str(org.id),
                    org.member.user_id,
                    job_type,
                    data_type,
                    Jsonb(new.options),
                    Jsonb(new.mapping) if new.mapping is not None else None,
                    new.upload_id,
                    new.file_name,
                    new.progress_total,
                    new.reverts_job_id,
                ],
            ).fetchone()
        assert row is not None
        return row["id"]  # type: ignore[no-any-return]

    def run(self, org: Org, job_id: uuid.UUID, cancel_at: int | None = None) -> dict[str, Any]:
        """Run the job to its end in one transaction; return the finished job row."""
        with self.db.tenant(org.id) as conn:
            job = conn.execute("SELECT * FROM scheduled_jobs WHERE id = %s", [job_id]).fetchone()
            assert job is not None
            ctx = InProcessContext(job, conn, self.db, self.settings, cancel_at)
            status = "completed"
            outcome: JobOutcome | None = None
            try:
                with conn.transaction():
                    outcome = kind_for(job["job_type"]).run(ctx)
                    if outcome.failed:
                        raise _Failed(outcome)
            except _Failed as failed:
                outcome, status = failed.outcome, "failed"
            except JobCancelled:
                status = "cancelled"
            conn.execute(
                _FINISH_JOB,
                {
                    "id": job_id,
                    "status": status,
                    "counts": Jsonb(outcome.counts) if outcome else None,
                    "record_count": outcome.record_count if outcome else None,
                    "error_message": outcome.error_message if outcome else None,
                    "report": str(outcome.error_report_path)
                    if outcome and outcome.error_report_path
                    else None,
                },
            )
            done = conn.execute("SELECT * FROM scheduled_jobs WHERE id = %s", [job_id]).fetchone()
        assert done is not None
        return done

    def import_csv(
        self,
        org: Org,
        data_type: str,
        content: str,
        mapping: dict[str, str | None] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Upload, create with the suggested (or given) mapping, run; the finished job row."""
        upload = self.upload(org.member, content, data_type=data_type)
        job_id = self.create(
            org, data_type, upload["id"], mapping or upload["suggested_mapping"], **options
        )
        return self.run(org, job_id)

    def rows(self, org: Org, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.db.tenant(org.id) as conn:
            return conn.execute(query, params or []).fetchall()  # type: ignore[arg-type]


@pytest.fixture
def importer(app_client: TestClient, db: Database, settings: Settings) -> Importer:
    return Importer(app_client, db, settings)
