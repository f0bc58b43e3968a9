"""A process whose file store cannot be used says so at start and exits, rather than
failing job after job."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crmferry.config import Settings
from crmferry.errors import StorageUnavailable
from crmferry.storage import store_for
from tests.conftest import TEST_SECRET, Backend


def test_a_missing_bucket_is_named_and_the_store_that_works_passes(
    settings: Settings, s3_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_for(settings).check()  # the test's own bucket exists
    monkeypatch.setattr(settings, "storage_url", "s3://no-such-bucket-here/files")
    with pytest.raises(StorageUnavailable, match="s3://no-such-bucket-here/files: no such bucket"):
        store_for(settings).check()


def test_a_worker_without_its_bucket_exits_with_the_reason(
    settings: Settings, s3_backend: Backend
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_STORAGE_URL": "s3://no-such-bucket-here",
        "CRMFERRY_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
    }
    result = subprocess.run(
        [sys.executable, "-m", "crmferry", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "CRMFERRY_STORAGE_URL s3://no-such-bucket-here/: no such bucket" in result.stderr


@pytest.mark.parametrize("url", ["http://bucket/x", "s3://", "s3:///prefix", "s3://b/p?x=1"])
def test_a_storage_url_that_is_not_s3_bucket_prefix_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        Settings(storage_url=url)
