-- The job list leaves out the outbox's delivery jobs (event_id set). The list index
-- carries event_id as its last key, so `event_id IS NULL` is checked inside the index
-- scan (an index condition, nothing read to be filtered out) while the index still
-- serves the tenant policy alone and keeps the list's order.
DROP INDEX scheduled_jobs_org_list_idx;
CREATE INDEX scheduled_jobs_org_list_idx
    ON scheduled_jobs ((organization_id::uuid), created_at DESC, id DESC, event_id);
