"""The application as each process of `crmferry serve --processes N` builds it.

With several processes uvicorn starts them itself and each imports the application
by name, so it is built here from the environment the parent set: the data dir
(`CRMFERRY_DATA_DIR`), the plugins (`CRMFERRY_PLUGINS`) and every other setting. The
parent has applied the migrations and checked the file store already.
"""

from __future__ import annotations

import atexit
import os

from fastapi import FastAPI

from crmferry.config import load_settings
from crmferry.db import connect
from crmferry.jobs.kinds import load_plugins
from crmferry.web.app import create_app
from crmferry.web.long_lived import freeze_long_lived


def app_from_environment() -> FastAPI:
    """A ready application of this process, with its own connection pool."""
    load_plugins(os.environ.get("CRMFERRY_PLUGINS", "").split(","))
    settings = load_settings(data_dir=os.environ.get("CRMFERRY_DATA_DIR"))
    db = connect(settings)
    atexit.register(db.close)
    app = create_app(settings, db)
    freeze_long_lived()
    return app
