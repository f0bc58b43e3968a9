"""Large files cross into object storage as multipart uploads (S3 marks such an
object's ETag with "-<parts>")."""

from __future__ import annotations

from fastapi.testclient import TestClient

from crmferry.config import Settings
from tests.conftest import Backend, Org
from tests.s3server import s3_client


def test_a_large_upload_is_stored_by_multipart_upload(
    app_client: TestClient, settings: Settings, org: Org, s3_backend: Backend
) -> None:
    rows = b"".join(
        b"Person %d,p%d@example.com,Company %d\n" % (i, i, i % 97) for i in range(300_000)
    )
    content = b"Name,Email,Company\n" + rows
    assert len(content) > 9 * 1024 * 1024
    response = app_client.post(
        "/api/v1/uploads", headers=org.member.headers, files={"file": ("big.csv", content)}
    )
    assert response.status_code == 201, response.text
    head = s3_client(s3_backend.endpoint or "").head_object(
        Bucket=s3_backend.bucket, Key=f"files/uploads/{org.id}/{response.json()['id']}"
    )
    assert head["ContentLength"] == len(content)
    assert head["ETag"].strip('"').endswith("-2")  # two parts of 8 MiB at most
