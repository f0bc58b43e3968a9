-- The web process and the workers connect as different roles.
--
-- crmferry_worker (created by the migration runner, like crmferry_app) runs jobs in
-- the same tenant transactions as the web serves requests in: the same table
-- privileges and row policies. It is therefore a member of crmferry_app, and has
-- what crmferry_app is granted now and later. Only crmferry_worker may call the
-- engine's functions that cross organizations: the claim, the lease renewal, the
-- recovery of expired leases, when the next job is due, the due schedules and the
-- pruning. The web keeps what it needs under row security (creating, cancelling,
-- deleting and retrying jobs, "run now" of a schedule), the metrics and the
-- authentication functions.

GRANT crmferry_app TO crmferry_worker;

REVOKE EXECUTE ON FUNCTION crmferry_recover_expired_jobs(), crmferry_next_due(),
    crmferry_due_schedules(integer), crmferry_prune_jobs(integer, integer),
    crmferry_renew_leases(text, uuid[], integer) FROM crmferry_app;
GRANT EXECUTE ON FUNCTION crmferry_recover_expired_jobs(), crmferry_next_due(),
    crmferry_due_schedules(integer), crmferry_prune_jobs(integer, integer),
    crmferry_renew_leases(text, uuid[], integer) TO crmferry_worker;

-- The claim answers what the worker needs to run each attempt, no more: the job's
-- id, organization, type and attempt. The worker then reads the job itself in its
-- organization's transaction, under row security. (Same statement as 0004's.)
DROP FUNCTION crmferry_claim_jobs(text, integer, integer, integer);
CREATE FUNCTION crmferry_claim_jobs(p_worker text, p_limit integer, p_org_cap integer,
                                    p_lease_seconds integer)
RETURNS TABLE (id uuid, organization_id text, job_type text, attempts integer)
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
    RETURNING j.id, j.organization_id, j.job_type, j.attempts
$$;
REVOKE ALL ON FUNCTION crmferry_claim_jobs(text, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_claim_jobs(text, integer, integer, integer)
    TO crmferry_worker;

-- Pruning refuses an age of zero days or less (every finished job would go) and an
-- empty batch.
CREATE OR REPLACE FUNCTION crmferry_prune_jobs(p_days integer, p_batch integer)
RETURNS TABLE (id uuid, organization_id text, result_path text, error_report_path text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    IF p_days IS NULL OR p_days < 1 THEN
        RAISE EXCEPTION 'finished jobs are kept at least one day; % is not an age to prune at',
                        coalesce(p_days::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_batch IS NULL OR p_batch < 1 THEN
        RAISE EXCEPTION 'a prune batch is at least one job, not %', coalesce(p_batch::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    DELETE FROM scheduled_jobs AS j
     USING (SELECT f.id FROM scheduled_jobs AS f
             WHERE f.status IN ('completed', 'failed', 'cancelled')
               AND f.completed_at < now() - make_interval(days => p_days)
             ORDER BY f.completed_at
             LIMIT p_batch
               FOR UPDATE SKIP LOCKED) AS old
     WHERE j.id = old.id
    RETURNING j.id, j.organization_id, j.result_path, j.error_report_path;
END
$$;

-- Every tenant policy compares organization_id as a uuid with crmferry_current_org();
-- scheduled_jobs keeps the seed's text column, compared as a uuid too (it compared
-- text with the setting's text before). The job list's index follows, so the policy
-- and the list's keyset pages are served by it.
ALTER POLICY tenant_isolation ON scheduled_jobs
    USING (organization_id::uuid = crmferry_current_org());
DROP INDEX scheduled_jobs_org_list_idx;
CREATE INDEX scheduled_jobs_org_list_idx
    ON scheduled_jobs ((organization_id::uuid), created_at DESC, id DESC);
