-- One heartbeat per worker: a single statement renews the leases of every job
-- the worker runs, whatever their organizations, and tells it which of its
-- attempts are still held and which were asked to cancel. A job missing from
-- the answer is no longer this attempt's (swept, finished or claimed again).
CREATE FUNCTION crmferry_renew_leases(p_worker text, p_jobs uuid[], p_lease_seconds integer)
RETURNS TABLE (id uuid, attempts integer, cancel_requested boolean)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE scheduled_jobs AS j
       SET heartbeat_at = now(),
           lease_expires_at = now() + make_interval(secs => p_lease_seconds)
     WHERE j.id = ANY (p_jobs)
       AND j.status = 'processing'
       AND j.worker_id = p_worker
    RETURNING j.id, j.attempts, j.cancel_requested
$$;

REVOKE ALL ON FUNCTION crmferry_renew_leases(text, uuid[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_renew_leases(text, uuid[], integer) TO crmferry_app;
