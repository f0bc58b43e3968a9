-- The ledger of an S3 source's objects (pick "each_new"): one row per schedule, object
-- and revision (its ETag), inserted with ON CONFLICT DO NOTHING in the same transaction
-- as the import job made for it, as schedule_occurrences is for fire times. However
-- many runs or workers race, an object's revision gets exactly one job.

CREATE TABLE source_objects (
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    schedule_id     uuid NOT NULL REFERENCES schedules ON DELETE CASCADE,
    bucket          text NOT NULL,
    object_key      text NOT NULL,
    etag            text NOT NULL,
    size_bytes      bigint,
    last_modified   timestamptz,
    job_id          uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, schedule_id, bucket, object_key, etag)
);
CREATE INDEX source_objects_schedule_idx ON source_objects (schedule_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON source_objects TO crmferry_app;
ALTER TABLE source_objects ENABLE ROW LEVEL SECURITY;
ALTER TABLE source_objects FORCE ROW LEVEL SECURITY;
DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_all ON source_objects TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;
CREATE POLICY tenant_isolation ON source_objects TO crmferry_app
    USING (organization_id = crmferry_current_org())
    WITH CHECK (organization_id = crmferry_current_org());
