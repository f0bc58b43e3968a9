-- Retention of uploads: an upload older than the window that no job names any more
-- (its jobs pruned, or it was never imported) goes, in batches; the caller deletes
-- its stored file. An upload a job still names stays: a retry reads it again.
CREATE INDEX scheduled_jobs_upload_idx ON scheduled_jobs (upload_id)
    WHERE upload_id IS NOT NULL;

CREATE FUNCTION crmferry_prune_uploads(p_days integer, p_batch integer)
RETURNS TABLE (id uuid, organization_id uuid, storage_path text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM uploads AS u
     USING (SELECT f.id FROM uploads AS f
             WHERE f.created_at < now() - make_interval(days => p_days)
               AND NOT EXISTS (SELECT 1 FROM scheduled_jobs AS j WHERE j.upload_id = f.id)
             ORDER BY f.created_at
             LIMIT p_batch
               FOR UPDATE SKIP LOCKED) AS old
     WHERE u.id = old.id
    RETURNING u.id, u.organization_id, u.storage_path
$$;

REVOKE ALL ON FUNCTION crmferry_prune_uploads(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_prune_uploads(integer, integer) TO crmferry_app;
