-- The tables added since 0066 are keyed by organization like the rest of the tenant
-- data (docs/scaling.md): the audit log, webhooks and their deliveries, and the
-- incremental exports' watermarks, whose reference to schedules moves to
-- (organization_id, schedule_id), so schedules no longer needs UNIQUE (id).
--
-- The outbox's events and the in-app notifications stay beside the job queue on the
-- coordinator: an event is written by the trigger on scheduled_jobs in the job's own
-- transaction, and delivery jobs reference it.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey,
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (organization_id, id);

ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_fkey;
ALTER TABLE webhooks DROP CONSTRAINT webhooks_pkey,
    ADD CONSTRAINT webhooks_pkey PRIMARY KEY (organization_id, id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey,
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (organization_id, id),
    ADD CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (organization_id, webhook_id)
        REFERENCES webhooks (organization_id, id) ON DELETE CASCADE;

ALTER TABLE export_watermarks DROP CONSTRAINT export_watermarks_schedule_id_fkey,
    DROP CONSTRAINT export_watermarks_pkey,
    ADD CONSTRAINT export_watermarks_pkey PRIMARY KEY (organization_id, schedule_id),
    ADD CONSTRAINT export_watermarks_schedule_id_fkey FOREIGN KEY (organization_id, schedule_id)
        REFERENCES schedules (organization_id, id) ON DELETE CASCADE;
ALTER TABLE schedules DROP CONSTRAINT schedules_id_key;
