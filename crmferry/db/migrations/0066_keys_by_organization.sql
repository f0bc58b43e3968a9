-- Every tenant data table is keyed by its organization: each primary key, unique
-- constraint and foreign key between tenant tables includes organization_id, so that
-- the tables can be distributed by organization_id (Citus) without changing a key or
-- a query (docs/scaling.md; checked by tests/db/test_distribution_ready.py). Ids stay
-- unique on their own (UUIDs and sequences); a lookup by id alone runs under row
-- security, which adds the organization, and uses the new keys' indexes.
-- The job queue (scheduled_jobs and what hangs on it) and authentication stay on one
-- node (the coordinator) and keep their keys.

-- records: contacts' (organization_id, id) unique key becomes its primary key
ALTER TABLE bids DROP CONSTRAINT bids_organization_id_contact_id_fkey;
ALTER TABLE contacts DROP CONSTRAINT contacts_organization_id_id_key;
ALTER TABLE contacts DROP CONSTRAINT contacts_pkey,
    ADD CONSTRAINT contacts_pkey PRIMARY KEY (organization_id, id);
ALTER TABLE bids ADD CONSTRAINT bids_organization_id_contact_id_fkey
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id)
    ON DELETE SET NULL (contact_id);
ALTER TABLE inventory DROP CONSTRAINT inventory_pkey,
    ADD CONSTRAINT inventory_pkey PRIMARY KEY (organization_id, id);
ALTER TABLE bids DROP CONSTRAINT bids_pkey,
    ADD CONSTRAINT bids_pkey PRIMARY KEY (organization_id, id);

-- the import and export paths' own tables
ALTER TABLE import_changes DROP CONSTRAINT import_changes_pkey,
    ADD CONSTRAINT import_changes_pkey PRIMARY KEY (organization_id, id);
ALTER TABLE uploads DROP CONSTRAINT uploads_pkey,
    ADD CONSTRAINT uploads_pkey PRIMARY KEY (organization_id, id);
ALTER TABLE templates DROP CONSTRAINT templates_pkey,
    ADD CONSTRAINT templates_pkey PRIMARY KEY (organization_id, id);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey,
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (organization_id, id);

-- schedules and the ledgers that reference them. UNIQUE (id) stays for now: migration
-- 0095 (export_watermarks) references schedules (id), and runs after this one on a new
-- database; 0110 moves that reference to (organization_id,
-- schedule_id) and drops schedules_id_key. On a database where 0095 ran first, its
-- foreign key is taken off while the primary key changes and put back on (id).
ALTER TABLE schedule_occurrences DROP CONSTRAINT schedule_occurrences_schedule_id_fkey;
ALTER TABLE source_objects DROP CONSTRAINT source_objects_schedule_id_fkey;
ALTER TABLE schedules ADD CONSTRAINT schedules_id_key UNIQUE (id);
DO $$
BEGIN
    IF to_regclass('export_watermarks') IS NOT NULL THEN
        ALTER TABLE export_watermarks DROP CONSTRAINT export_watermarks_schedule_id_fkey;
    END IF;
END $$;
ALTER TABLE schedules DROP CONSTRAINT schedules_pkey,
    ADD CONSTRAINT schedules_pkey PRIMARY KEY (organization_id, id);
DO $$
BEGIN
    IF to_regclass('export_watermarks') IS NOT NULL THEN
        ALTER TABLE export_watermarks ADD CONSTRAINT export_watermarks_schedule_id_fkey
            FOREIGN KEY (schedule_id) REFERENCES schedules (id) ON DELETE CASCADE;
    END IF;
END $$;
ALTER TABLE schedule_occurrences DROP CONSTRAINT schedule_occurrences_pkey,
    ADD CONSTRAINT schedule_occurrences_pkey PRIMARY KEY (organization_id, schedule_id, fire_at),
    ADD CONSTRAINT schedule_occurrences_schedule_id_fkey
        FOREIGN KEY (organization_id, schedule_id) REFERENCES schedules (organization_id, id)
        ON DELETE CASCADE;
ALTER TABLE source_objects ADD CONSTRAINT source_objects_schedule_id_fkey
    FOREIGN KEY (organization_id, schedule_id) REFERENCES schedules (organization_id, id)
    ON DELETE CASCADE;
DROP INDEX source_objects_schedule_idx;  -- the primary key's prefix serves the cascade

-- webhooks and their deliveries
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_fkey;
ALTER TABLE webhooks DROP CONSTRAINT webhooks_pkey,
    ADD CONSTRAINT webhooks_pkey PRIMARY KEY (organization_id, id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey,
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (organization_id, id),
    ADD CONSTRAINT webhook_deliveries_webhook_id_fkey
        FOREIGN KEY (organization_id, webhook_id) REFERENCES webhooks (organization_id, id)
        ON DELETE CASCADE;
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (organization_id, webhook_id);
