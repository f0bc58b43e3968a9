-- The job engine: notifications, the claim, lease recovery, the scheduler's
-- look-up, retention and metrics. The functions that cross organizations are
-- SECURITY DEFINER, owned by the schema owner, and return only what the
-- worker needs; everything else runs as the application role under RLS.

-- Due pending jobs by time: the worker's "when is the next one due" question.
CREATE INDEX scheduled_jobs_pending_time_idx
    ON scheduled_jobs (scheduled_time) WHERE status = 'pending';

-- Wake-ups: a small payload (job id, organization, status) on every insert and
-- on every change the workers or the event stream care about. Heartbeats
-- (lease renewals) change none of these columns and stay silent.
CREATE FUNCTION crmferry_job_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('crmferry_jobs', json_build_object(
        'id', NEW.id, 'org', NEW.organization_id, 'status', NEW.status)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER scheduled_jobs_notify_insert
    AFTER INSERT ON scheduled_jobs
    FOR EACH ROW EXECUTE FUNCTION crmferry_job_notify();

CREATE TRIGGER scheduled_jobs_notify_update
    AFTER UPDATE ON scheduled_jobs
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.progress_done IS DISTINCT FROM NEW.progress_done
          OR OLD.progress_total IS DISTINCT FROM NEW.progress_total
          OR OLD.cancel_requested IS DISTINCT FROM NEW.cancel_requested
          OR OLD.scheduled_time IS DISTINCT FROM NEW.scheduled_time)
    EXECUTE FUNCTION crmferry_job_notify();

-- Schedules changed: workers recompute when to wake.
CREATE FUNCTION crmferry_schedule_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('crmferry_schedules', NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER schedules_notify
    AFTER INSERT OR UPDATE OF next_run_at, enabled ON schedules
    FOR EACH ROW EXECUTE FUNCTION crmferry_schedule_notify();

-- The claim: one statement. Due pending jobs in priority order, skipping rows
-- another worker has locked, at most p_org_cap running per organization
-- (counted inside the claim, so one tenant's backlog cannot starve the
-- others), marked processing with a lease, committed before any job runs.
CREATE FUNCTION crmferry_claim_jobs(p_worker text, p_limit integer, p_org_cap integer,
                                    p_lease_seconds integer)
RETURNS SETOF scheduled_jobs
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH candidates AS MATERIALIZED (
        SELECT j.id, j.organization_id, j.priority, j.scheduled_time
          FROM scheduled_jobs AS j
         WHERE j.status = 'pending'
           AND j.scheduled_time <= now()
           AND (SELECT count(*) FROM scheduled_jobs AS r
                 WHERE r.organization_id = j.organization_id
                   AND r.status = 'processing') < p_org_cap
         ORDER BY j.priority DESC, j.scheduled_time, j.id
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED
    ), ranked AS (
        SELECT c.id,
               row_number() OVER (PARTITION BY c.organization_id
                                  ORDER BY c.priority DESC, c.scheduled_time, c.id) AS rank,
               (SELECT count(*) FROM scheduled_jobs AS r
                 WHERE r.organization_id = c.organization_id
                   AND r.status = 'processing') AS running
          FROM candidates AS c
    )
    UPDATE scheduled_jobs AS j
       SET status = 'processing',
           worker_id = p_worker,
           attempts = j.attempts + 1,
           started_at = now(),
           heartbeat_at = now(),
           lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           updated_at = now()
      FROM ranked
     WHERE j.id = ranked.id
       AND ranked.running + ranked.rank <= p_org_cap
    RETURNING j.*
$$;

-- Expired leases (the worker died or lost the database): back to pending with
-- exponential backoff and jitter (2^attempts seconds, capped at 10 minutes,
-- times 0.5-1.5), or failed once max_attempts is reached, saying so.
CREATE FUNCTION crmferry_recover_expired_jobs()
RETURNS TABLE (id uuid, organization_id text, status text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE scheduled_jobs AS j
       SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'pending' END,
           error_message = CASE WHEN j.attempts >= j.max_attempts
               THEN format('Gave up after %s attempts: the worker running it stopped '
                           'responding each time (its lease expired).', j.attempts)
               ELSE j.error_message END,
           completed_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
           scheduled_time = CASE WHEN j.attempts >= j.max_attempts THEN j.scheduled_time
               ELSE now() + make_interval(secs => least(600, 2 ^ j.attempts)
                                                  * (0.5 + random())) END,
           attempt_history = j.attempt_history || jsonb_build_array(jsonb_build_object(
               'attempt', j.attempts, 'worker', j.worker_id, 'started_at', j.started_at,
               'ended_at', now(), 'outcome', 'lease expired')),
           worker_id = NULL,
           lease_expires_at = NULL,
           updated_at = now()
     WHERE j.status = 'processing' AND j.lease_expires_at < now()
    RETURNING j.id, j.organization_id, j.status
$$;

-- When the next job or schedule is due (NULL: nothing is waiting).
CREATE FUNCTION crmferry_next_due() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT least(
        (SELECT min(scheduled_time) FROM scheduled_jobs WHERE status = 'pending'),
        (SELECT min(next_run_at) FROM schedules WHERE enabled))
$$;

-- Schedules whose next run is due: the scheduler then fires each one in its
-- organization's own transaction, where the occurrence ledger decides.
CREATE FUNCTION crmferry_due_schedules(p_limit integer)
RETURNS TABLE (id uuid, organization_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.id, s.organization_id
      FROM schedules AS s
     WHERE s.enabled AND s.next_run_at <= now()
     ORDER BY s.next_run_at
     LIMIT p_limit
$$;

-- Retention: one batch of finished jobs older than the window, deleted; the
-- caller deletes their files.
CREATE FUNCTION crmferry_prune_jobs(p_days integer, p_batch integer)
RETURNS TABLE (id uuid, organization_id text, result_path text, error_report_path text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM scheduled_jobs AS j
     USING (SELECT f.id FROM scheduled_jobs AS f
             WHERE f.status IN ('completed', 'failed', 'cancelled')
               AND f.completed_at < now() - make_interval(days => p_days)
             ORDER BY f.completed_at
             LIMIT p_batch
               FOR UPDATE SKIP LOCKED) AS old
     WHERE j.id = old.id
    RETURNING j.id, j.organization_id, j.result_path, j.error_report_path
$$;

-- Prometheus figures across organizations: counts only, no tenant data.
CREATE FUNCTION crmferry_job_metrics()
RETURNS TABLE (name text, label text, value double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT 'jobs', s.status, coalesce(c.n, 0)::double precision
      FROM unnest(ARRAY['pending', 'processing', 'completed', 'failed', 'cancelled'])
           AS s(status)
      LEFT JOIN (SELECT status, count(*) AS n FROM scheduled_jobs GROUP BY status) AS c
        ON c.status = s.status
    UNION ALL
    SELECT 'queue_lag_seconds', NULL,
           coalesce(extract(epoch FROM now() - min(scheduled_time)), 0)::double precision
      FROM scheduled_jobs WHERE status = 'pending' AND scheduled_time <= now()
    UNION ALL
    SELECT 'run_seconds', q::text,
           percentile_cont(q) WITHIN GROUP (
               ORDER BY extract(epoch FROM completed_at - started_at))::double precision
      FROM scheduled_jobs, unnest(ARRAY[0.5, 0.9, 0.99]) AS q
     WHERE status = 'completed' AND completed_at > now() - interval '1 hour'
     GROUP BY q
    UNION ALL
    SELECT 'run_seconds_sum', NULL,
           coalesce(sum(extract(epoch FROM completed_at - started_at)), 0)::double precision
      FROM scheduled_jobs
     WHERE status = 'completed' AND completed_at > now() - interval '1 hour'
    UNION ALL
    SELECT 'run_seconds_count', NULL, count(*)::double precision
      FROM scheduled_jobs
     WHERE status = 'completed' AND completed_at > now() - interval '1 hour'
    UNION ALL
    SELECT 'rows_per_second', NULL,
           coalesce(sum(record_count) / nullif(sum(extract(epoch FROM completed_at
                                                           - started_at)), 0), 0)::double precision
      FROM scheduled_jobs
     WHERE status = 'completed' AND completed_at > now() - interval '1 hour'
$$;

REVOKE ALL ON FUNCTION crmferry_claim_jobs(text, integer, integer, integer),
    crmferry_recover_expired_jobs(), crmferry_next_due(), crmferry_due_schedules(integer),
    crmferry_prune_jobs(integer, integer), crmferry_job_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_claim_jobs(text, integer, integer, integer),
    crmferry_recover_expired_jobs(), crmferry_next_due(), crmferry_due_schedules(integer),
    crmferry_prune_jobs(integer, integer), crmferry_job_metrics() TO crmferry_app;
