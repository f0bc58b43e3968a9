"""Idempotency keys for requests that create a job (POST /jobs, a retry).

The same key from the same caller within 24 hours gives back the job its first
request made, however often and however concurrently it is sent: the key's row is
inserted in the same transaction as the job, so a repeat waits on the first's
unique key and then reads the job it committed. A key sent again with another
request is a 422; a key whose job was deleted is forgotten with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from crmferry.accounts.principal import Principal
from crmferry.db import Conn
from crmferry.errors import Conflict, ValidationFailed
from crmferry.jobs.operations import get_job

KEY_HOURS = 24

FORGET_EXPIRED = f"""
DELETE FROM idempotency_keys
 WHERE organization_id = crmferry_current_org()
   AND created_at < now() - interval '{KEY_HOURS} hours'
"""

# Expired keys are forgotten first; a live one (or one a concurrent request is
# writing, which this waits for) is left alone and nothing is returned.
CLAIM_KEY = """
INSERT INTO idempotency_keys (organization_id, user_id, key, operation, fingerprint)
VALUES (crmferry_current_org(), %(user)s, %(key)s, %(operation)s, %(fingerprint)s)
ON CONFLICT (organization_id, user_id, key) DO NOTHING
RETURNING key
"""

EXISTING_KEY = """
SELECT operation, fingerprint, job_id FROM idempotency_keys
 WHERE organization_id = crmferry_current_org() AND user_id = %(user)s AND key = %(key)s
"""

LINK_JOB = """
UPDATE idempotency_keys SET job_id = %(job)s
 WHERE organization_id = crmferry_current_org() AND user_id = %(user)s AND key = %(key)s
"""


def fingerprint(operation: str, request: object) -> str:
    """A digest of what a request asked for (keys sorted), to tell a repeat from a reuse."""
    text = json.dumps([operation, request], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def once(
    conn: Conn,
    principal: Principal,
    key: str | None,
    operation: str,
    request: object,
    create: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """`create()`'s job, or, for a key this caller already used for the same request,
    the job that first request made. Returns (job row, replayed)."""
    if key is None:
        return create(), False
    params = {
        "user": principal.user_id,
        "key": key,
        "operation": operation,
        "fingerprint": fingerprint(operation, request),
    }
    conn.execute(FORGET_EXPIRED)
    existing = None
    for _ in range(2):  # a second pass only if the key's job was deleted in between
        if conn.execute(CLAIM_KEY, params).fetchone() is not None:
            job = create()
            conn.execute(LINK_JOB, {**params, "job": job["id"]})
            return job, False
        existing = conn.execute(EXISTING_KEY, params).fetchone()
        if existing is not None:
            break
    if existing is None or existing["job_id"] is None:
        raise Conflict("This Idempotency-Key is in use by a request that changed meanwhile; retry.")
    if (existing["operation"], existing["fingerprint"]) != (operation, params["fingerprint"]):
        message = (
            "This Idempotency-Key was already used for another request; "
            "send a new key for a new request."
        )
        raise ValidationFailed(message, [{"field": "Idempotency-Key", "message": message}])
    return get_job(conn, existing["job_id"]), True
