"""Connection strings: the owner's (migrations, maintenance) and the application role's."""

from __future__ import annotations

import hashlib
import hmac

from psycopg.conninfo import conninfo_to_dict, make_conninfo

APP_ROLE = "crmferry_app"


def with_database(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


def app_role_password(secret_key: str, explicit: str | None) -> str:
    """The application role's password: given, or derived from the secret key."""
    if explicit:
        return explicit
    return hmac.new(secret_key.encode(), b"crmferry-app-db", hashlib.sha256).hexdigest()


def app_url(owner_url: str, password: str) -> str:
    """The same server and database, logged in as the application role."""
    params = conninfo_to_dict(owner_url)
    params["user"] = APP_ROLE
    params["password"] = password
    return make_conninfo(**params)  # type: ignore[arg-type]
