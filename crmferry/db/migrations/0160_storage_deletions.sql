-- Stored files whose deletion failed while the file store was down. Retention deletes a
-- job's (or an upload's) row first and its files after; when the store refuses the
-- delete, the row is already gone, so the key waits here and every retention sweep
-- tries it again before anything else. `whole_prefix`: the key is a job's prefix, every
-- file under it goes. Only the SECURITY DEFINER functions below touch the table, and
-- only the workers (which run retention) may call them.
CREATE TABLE storage_deletions (
    organization_id uuid NOT NULL,
    storage_key text NOT NULL,
    whole_prefix boolean NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 1,
    PRIMARY KEY (organization_id, storage_key)
);

ALTER TABLE storage_deletions ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage_deletions FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON storage_deletions TO CURRENT_USER USING (true) WITH CHECK (true);

-- A delete that failed (again): queued, or its attempts counted.
CREATE FUNCTION crmferry_queue_deletion(p_org uuid, p_key text, p_prefix boolean)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO storage_deletions (organization_id, storage_key, whole_prefix)
    VALUES (p_org, p_key, p_prefix)
    ON CONFLICT (organization_id, storage_key)
    DO UPDATE SET failed_at = now(), attempts = storage_deletions.attempts + 1
$$;

-- The oldest queued deletes, to try again.
CREATE FUNCTION crmferry_queued_deletions(p_batch integer)
RETURNS TABLE (organization_id uuid, storage_key text, whole_prefix boolean)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT d.organization_id, d.storage_key, d.whole_prefix
      FROM storage_deletions AS d
     ORDER BY d.failed_at
     LIMIT p_batch
$$;

-- A queued delete that went through.
CREATE FUNCTION crmferry_deletion_done(p_org uuid, p_key text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM storage_deletions WHERE organization_id = p_org AND storage_key = p_key
$$;

REVOKE ALL ON FUNCTION crmferry_queue_deletion(uuid, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION crmferry_queued_deletions(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION crmferry_deletion_done(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_queue_deletion(uuid, text, boolean) TO crmferry_worker;
GRANT EXECUTE ON FUNCTION crmferry_queued_deletions(integer) TO crmferry_worker;
GRANT EXECUTE ON FUNCTION crmferry_deletion_done(uuid, text) TO crmferry_worker;
