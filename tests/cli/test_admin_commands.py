"""`crmferry orgs|users|tokens create` in a script: ids and tokens alone on stdout."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from fastapi.testclient import TestClient

from crmferry.config import Settings
from tests.conftest import TEST_SECRET


def crmferry(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "crmferry", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=env,
        timeout=120,
    )


def test_script_creates_org_user_token_and_the_token_works(
    settings: Settings, app_client: TestClient
) -> None:
    org = crmferry(settings, "orgs", "create", "Scripted Ltd")
    assert org.returncode == 0, org.stderr
    org_id = org.stdout.strip()
    uuid.UUID(org_id)  # alone on stdout: exactly one uuid
    user = crmferry(
        settings,
        "users",
        "create",
        "--org",
        org_id,
        "--email",
        "Pat@Scripted.com",
        "--role",
        "member",
        "--name",
        "Pat",
        "--password-stdin",
        stdin="s3cret-pass\n",
    )
    assert user.returncode == 0, user.stderr
    uuid.UUID(user.stdout.strip())
    token = crmferry(settings, "tokens", "create", "--org", org_id, "--email", "pat@scripted.com")
    assert token.returncode == 0, token.stderr
    assert token.stdout.count("\n") == 1 and token.stdout.startswith("cf_")
    me = app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.stdout.strip()}"})
    assert me.status_code == 200
    assert me.json()["email"] == "pat@scripted.com" and me.json()["role"] == "member"
    assert me.json()["organization"]["name"] == "Scripted Ltd"


def test_bad_input_exits_non_zero_with_a_message(settings: Settings) -> None:
    missing = crmferry(
        settings, "tokens", "create", "--org", str(uuid.uuid4()), "--email", "x@y.com"
    )
    assert missing.returncode == 3 and "No member" in missing.stderr and missing.stdout == ""
    bad_role = crmferry(
        settings,
        "users",
        "create",
        "--org",
        str(uuid.uuid4()),
        "--email",
        "x@y.com",
        "--role",
        "owner",
    )
    assert bad_role.returncode == 2 and "Unknown role" in bad_role.stderr
    bad_email = crmferry(settings, "orgs", "create", "")
    assert bad_email.returncode == 2


def test_db_upgrade_is_idempotent(settings: Settings) -> None:
    first = crmferry(settings, "db", "upgrade")
    second = crmferry(settings, "db", "upgrade")
    assert first.returncode == 0 and second.returncode == 0
    assert "applied" not in second.stderr and "up to date" in second.stderr
