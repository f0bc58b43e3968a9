"""Dispatch: undispatched events become delivery jobs, once per event, channel and key.

Run by the workers' housekeeping. Each organization's batch is one transaction: the
events are locked (SKIP LOCKED: several workers share the work), every channel plans
its deliveries, they are inserted in one statement (a unique index makes a second
insert of the same delivery a no-op) and the events are marked dispatched.
"""

from __future__ import annotations

import logging

from psycopg.types.json import Jsonb

from crmferry.config import Settings
from crmferry.db import Conn, Database
from crmferry.jobs.kinds import load_builtin_kinds
from crmferry.notify.channels import CHANNELS, Delivery, Event

log = logging.getLogger(__name__)

ORGANIZATIONS = "SELECT organization_id FROM crmferry_event_organizations(%s)"

TAKE_EVENTS = """
SELECT * FROM events
 WHERE dispatched_at IS NULL
 ORDER BY created_at, id
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED
"""

# Delivery jobs act for the event's job creator or schedule owner; high priority, so a
# tenant's notifications do not queue behind its own long imports.
INSERT_DELIVERIES = """
INSERT INTO scheduled_jobs (organization_id, created_by, creator_name, job_type, data_type,
                            scheduled_time, priority, max_attempts, options, event_id,
                            delivery_key)
SELECT e.organization_id::text,
       coalesce((e.payload->>'created_by')::uuid, '00000000-0000-0000-0000-000000000000'),
       'CRM Ferry', d.job_type, coalesce(e.payload->>'data_type', 'contacts'), now(), 100,
       d.max_attempts,
       jsonb_build_object('event_id', e.id, 'key', d.key) || d.options, e.id, d.key
  FROM unnest(%(events)s::uuid[], %(types)s::text[], %(keys)s::text[], %(options)s::jsonb[],
              %(attempts)s::integer[]) AS d(event_id, job_type, key, options, max_attempts)
  JOIN events AS e ON e.id = d.event_id
ON CONFLICT DO NOTHING
"""

MARK_DISPATCHED = "UPDATE events SET dispatched_at = clock_timestamp() WHERE id = ANY(%s)"

BATCH = 200
MAX_BATCHES = 10  # per organization and housekeeping round


def dispatch_events(db: Database, settings: Settings, limit: int = BATCH) -> int:
    """Dispatch waiting events of every organization (one transaction each); how many."""
    load_builtin_kinds()  # the built-in channels register with their kinds
    with db.autocommit() as conn:
        orgs = [r["organization_id"] for r in conn.execute(ORGANIZATIONS, [limit]).fetchall()]
    done = 0
    for org in orgs:
        # a busy organization's backlog drains in a few batches (a transaction each),
        # bounded so that one tenant cannot hold the worker's housekeeping
        for _ in range(MAX_BATCHES):
            with db.tenant(org) as conn:
                taken = dispatch_batch(conn, settings, limit)
            done += taken
            if taken < limit:
                break
    return done


def dispatch_batch(conn: Conn, settings: Settings, limit: int = BATCH) -> int:
    """One organization's batch, in the caller's tenant transaction; events dispatched."""
    events = [Event.of(r) for r in conn.execute(TAKE_EVENTS, {"limit": limit}).fetchall()]
    if not events:
        return 0
    planned: list[tuple[str, int, Delivery]] = []
    for channel in CHANNELS.items():
        for delivery in channel.plan(conn, settings, events):
            planned.append((channel.kind.job_type, channel.max_attempts, delivery))
    if planned:
        conn.execute(
            INSERT_DELIVERIES,
            {
                "events": [d.event_id for _, _, d in planned],
                "types": [t for t, _, _ in planned],
                "keys": [d.key for _, _, d in planned],
                "options": [Jsonb(d.options) for _, _, d in planned],
                "attempts": [a for _, a, _ in planned],
            },
        )
    conn.execute(MARK_DISPATCHED, [[e.id for e in events]])
    log.info("dispatched %d event(s) into %d delivery job(s)", len(events), len(planned))
    return len(events)
