"""A server process's objects that live as long as it does, kept out of the collector.

Everything imported and built before the first request (modules, the routes, the
pydantic models and their validators, the settings) lives until the process ends, yet
each full collection of Python's cyclic garbage collector walks all of it again. In a
server process that is hundreds of thousands of objects: one full collection took up
to 115 ms, measured in `crmferry serve` under `bench/api.py`'s 8 clients, and every
request waiting behind it took that much longer (the jobs page's p99). Frozen once
the application is built, those objects are left out of every later collection;
what requests create is collected as before.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect what start-up left behind, then move every surviving object to the
    collector's permanent generation (`gc.freeze`)."""
    gc.collect()
    gc.freeze()
