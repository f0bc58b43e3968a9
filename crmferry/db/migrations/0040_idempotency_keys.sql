-- Idempotency-Key on POST /jobs and POST /jobs/{id}/retry: the same key from the
-- same caller gives back the job the first request made, for 24 hours. The unique
-- key makes concurrent repeats wait for the first and then find its job.

CREATE TABLE idempotency_keys (
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    operation       text NOT NULL,
    fingerprint     text NOT NULL,
    job_id          uuid REFERENCES scheduled_jobs ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (organization_id, created_at);
-- deleting a job (or pruning thousands) finds its key by index
CREATE INDEX idempotency_keys_job_idx ON idempotency_keys (job_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO crmferry_app;
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_all ON idempotency_keys TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;
CREATE POLICY tenant_isolation ON idempotency_keys TO crmferry_app
    USING (organization_id = crmferry_current_org())
    WITH CHECK (organization_id = crmferry_current_org());
