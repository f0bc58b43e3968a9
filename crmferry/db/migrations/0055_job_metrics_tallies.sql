-- /metrics counted every job by status on each scrape: an index-only scan of all
-- jobs (15-25 ms at 200,000 jobs, more with every job kept for the retention
-- window), and it read the last hour's completed jobs four times. The counts are
-- now kept as jobs change: each insert, status change and delete appends its
-- +1 / -1 to a small ledger (appends never wait on each other, so concurrent
-- workers do not queue behind one counter row), which is folded into one row per
-- status now and then. A scrape sums the ledger (a few thousand rows at most) and
-- reads the last hour once.

CREATE TABLE job_status_tallies (
    status text NOT NULL,
    delta  bigint NOT NULL
);
REVOKE ALL ON job_status_tallies FROM PUBLIC;

-- Fold the ledger into one row per status. One folder at a time (an advisory
-- lock, tried, never waited for); the others simply skip, their rows are folded
-- next time. Concurrent appends are never lost: DELETE removes only what its
-- snapshot sees, and the sums of exactly those rows go back in.
CREATE FUNCTION crmferry_fold_job_tallies() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF pg_try_advisory_xact_lock(hashtext('crmferry_fold_job_tallies')) THEN
        WITH folded AS (DELETE FROM job_status_tallies RETURNING status, delta)
        INSERT INTO job_status_tallies (status, delta)
        SELECT status, sum(delta) FROM folded GROUP BY status;
    END IF;
END $$;

-- About one change in a thousand folds the ledger: a few milliseconds, rarely,
-- instead of a ledger that grows with every job.
CREATE FUNCTION crmferry_tally_job_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_status_tallies (status, delta)
        SELECT status, count(*) FROM new_jobs GROUP BY status;
    ELSE
        INSERT INTO job_status_tallies (status, delta)
        SELECT status, -count(*) FROM old_jobs GROUP BY status;
    END IF;
    IF random() < 0.001 THEN
        PERFORM crmferry_fold_job_tallies();
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION crmferry_tally_job_status() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO job_status_tallies (status, delta) VALUES (OLD.status, -1), (NEW.status, 1);
    IF random() < 0.001 THEN
        PERFORM crmferry_fold_job_tallies();
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION crmferry_reset_job_tallies() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM job_status_tallies;
    RETURN NULL;
END $$;

-- Inserts and deletes once per statement (a retention batch is one row of the
-- ledger per status); status changes per row, and only those: heartbeats and
-- progress updates do not fire it.
CREATE TRIGGER scheduled_jobs_tally_insert
    AFTER INSERT ON scheduled_jobs REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION crmferry_tally_job_rows();
CREATE TRIGGER scheduled_jobs_tally_delete
    AFTER DELETE ON scheduled_jobs REFERENCING OLD TABLE AS old_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION crmferry_tally_job_rows();
CREATE TRIGGER scheduled_jobs_tally_status
    AFTER UPDATE OF status ON scheduled_jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION crmferry_tally_job_status();
CREATE TRIGGER scheduled_jobs_tally_truncate
    AFTER TRUNCATE ON scheduled_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION crmferry_reset_job_tallies();

-- The jobs there are now (the triggers above hold writers off until this commits).
INSERT INTO job_status_tallies (status, delta)
SELECT status, count(*) FROM scheduled_jobs GROUP BY status;

-- The same figures as before: jobs by status (from the ledger), the queue lag (the
-- pending index), and the last hour's completed jobs, read once (the index on
-- completed_at of finished jobs), its quantiles sorted once.
CREATE OR REPLACE FUNCTION crmferry_job_metrics()
RETURNS TABLE (name text, label text, value double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH recent AS MATERIALIZED (
        SELECT extract(epoch FROM completed_at - started_at) AS seconds, record_count
          FROM scheduled_jobs
         WHERE status = 'completed' AND completed_at > now() - interval '1 hour'
    ), summary AS (
        SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY seconds)
                   AS quantiles,
               coalesce(sum(seconds), 0) AS seconds_sum,
               count(*) AS seconds_count,
               coalesce(sum(record_count) / nullif(sum(seconds), 0), 0) AS rows_per_second
          FROM recent
    )
    SELECT * FROM (
        SELECT 'jobs', s.status, coalesce(sum(t.delta), 0)::double precision
          FROM unnest(ARRAY['pending', 'processing', 'completed', 'failed', 'cancelled'])
               WITH ORDINALITY AS s(status, position)
          LEFT JOIN job_status_tallies AS t ON t.status = s.status
         GROUP BY s.status, s.position
         ORDER BY s.position
    ) AS jobs
    UNION ALL
    SELECT 'queue_lag_seconds', NULL,
           coalesce(extract(epoch FROM now() - min(scheduled_time)), 0)::double precision
      FROM scheduled_jobs WHERE status = 'pending' AND scheduled_time <= now()
    UNION ALL
    SELECT 'run_seconds', q.quantile::text, q.value::double precision
      FROM summary,
           unnest(ARRAY[0.5, 0.9, 0.99], summary.quantiles) AS q(quantile, value)
     WHERE q.value IS NOT NULL
    UNION ALL
    SELECT 'run_seconds_sum', NULL, seconds_sum::double precision FROM summary
    UNION ALL
    SELECT 'run_seconds_count', NULL, seconds_count::double precision FROM summary
    UNION ALL
    SELECT 'rows_per_second', NULL, rows_per_second::double precision FROM summary
$$;

REVOKE ALL ON FUNCTION crmferry_fold_job_tallies() FROM PUBLIC;
