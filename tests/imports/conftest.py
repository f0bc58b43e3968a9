"""Import fixtures: upload through the API, create jobs as `POST /jobs` does (the
engine's create_job, which calls the kind's prepare), and run a job with the
engine's own one-job runner (claim, run on the job's tenant transaction, finish)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs import operations
from tests.conftest import Member, Org
from tests.jobrun import run_job
from tests.stored import fetched_copy


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
        """An import job, created as `POST /jobs` creates it."""
        body: dict[str, Any] = {"upload_id": upload_id, "mapping": mapping, "options": options}
        return self.create_from_body(org, "import", data_type, body)

    def create_from_body(
        self, org: Org, job_type: str, data_type: str, body: dict[str, Any]
    ) -> uuid.UUID:
        request = {**body, "job_type": job_type, "data_type": data_type}
        with self.db.tenant(org.id) as conn:
            row = operations.create_job(conn, principal_of(org, org.member), request, self.settings)
        return row["id"]  # type: ignore[no-any-return]

    def run(self, org: Org, job_id: uuid.UUID, cancel: bool = False) -> dict[str, Any]:
        """Claim this job (others are given back) and run it as a worker does; with
        `cancel`, a cancel is requested once it runs. The finished job row, with
        `report_file` a local copy of its error report (or None)."""
        done = run_job(self.db, self.settings, org.id, job_id, cancel)
        stored = done["error_report_path"]
        return {**done, "report_file": fetched_copy(self.settings, stored) if stored else None}

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
