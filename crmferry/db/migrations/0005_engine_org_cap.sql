-- The claim counts each candidate organization's running jobs (its
-- concurrency cap). A small partial index keeps that count to the few rows
-- actually processing for that organization, however many run elsewhere.
CREATE INDEX scheduled_jobs_processing_org_idx
    ON scheduled_jobs (organization_id) WHERE status = 'processing';
