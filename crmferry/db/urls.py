"""Connection strings: the owner's (migrations, maintenance) and the application roles':
`crmferry_app` for the web process and the CLI, `crmferry_worker` for the workers."""

from __future__ import annotations

import hashlib
import hmac

from psycopg.conninfo import conninfo_to_dict, make_conninfo

APP_ROLE = "crmferry_app"
WORKER_ROLE = "crmferry_worker"
ROLES = (APP_ROLE, WORKER_ROLE)

# what each role's derived password is derived with (never change: it would lock out
# every process whose password was derived before)
_PASSWORD_LABELS = {APP_ROLE: b"crmferry-app-db", WORKER_ROLE: b"crmferry-worker-db"}


def with_database(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


def role_password(secret_key: str, role: str, explicit: str | None) -> str:
    """An application role's password: given, or derived from the secret key (each
    role its own)."""
    if explicit:
        return explicit
    return hmac.new(secret_key.encode(), _PASSWORD_LABELS[role], hashlib.sha256).hexdigest()


def role_url(owner_url: str, role: str, password: str) -> str:
    """The same server and database, logged in as an application role."""
    params = conninfo_to_dict(owner_url)
    params["user"] = role
    params["password"] = password
    return make_conninfo(**params)  # type: ignore[arg-type]
