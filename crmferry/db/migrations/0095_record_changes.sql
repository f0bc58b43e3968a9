-- Incremental exports: which records changed since an earlier export's snapshot.
--
-- Each record keeps the id of the transaction that last wrote it (`changed_xid`: set by
-- its default on insert, and by the import and revert statements on update). An export
-- records its snapshot (`pg_current_snapshot()`); the next export of the same schedule
-- takes the records whose writer that snapshot did not see. A transaction still in
-- flight when the first snapshot was taken is invisible to it, so its rows land in the
-- next export, whatever the commit order; one the first snapshot saw never lands again.
-- A wall clock could not tell these apart: `updated_at` is the writer's start, which
-- may be before the snapshot although its commit came after.
--
-- Deleted records leave a tombstone with the deleting transaction's id, read the same
-- way. Rows written before this migration have no `changed_xid`: every snapshot an
-- export can have recorded saw them.

CREATE TABLE record_tombstones (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    table_name      text        NOT NULL,
    record_id       uuid        NOT NULL,
    record          jsonb       NOT NULL,
    deleted_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_xid     xid8        NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (organization_id, table_name, record_id, deleted_xid)
);
CREATE INDEX record_tombstones_deleted_idx ON record_tombstones (organization_id, table_name, deleted_at);
ALTER TABLE record_tombstones ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_tombstones FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON record_tombstones TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY tenant_isolation ON record_tombstones TO crmferry_app
    USING (organization_id = crmferry_current_org());
GRANT SELECT ON record_tombstones TO crmferry_app;

-- One statement-level trigger per record table. SECURITY DEFINER: the tombstones are
-- written only here (the application role may read them, never write them); the rows
-- come from the deleting statement, which row security already limited to the caller's
-- organization. Records deleted with their organization leave none.
CREATE FUNCTION crmferry_record_tombstones() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO record_tombstones (organization_id, table_name, record_id, record)
    SELECT o.organization_id, TG_TABLE_NAME, o.id, to_jsonb(o) - 'changed_xid'
      FROM old_records AS o
     WHERE EXISTS (SELECT FROM organizations AS org WHERE org.id = o.organization_id);
    RETURN NULL;
END $$;

CREATE FUNCTION crmferry_track_record_changes(record_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t text := (SELECT relname FROM pg_class WHERE oid = record_table);
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN changed_xid xid8', t);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN changed_xid SET DEFAULT pg_current_xact_id()', t);
    EXECUTE format('CREATE TRIGGER record_tombstones AFTER DELETE ON %I
                        REFERENCING OLD TABLE AS old_records FOR EACH STATEMENT
                        EXECUTE FUNCTION crmferry_record_tombstones()', t);
END $$;

SELECT crmferry_track_record_changes(table_name::regclass) FROM crmferry_record_tables;

-- A record table made from now on tracks its changes too (same body as 0021's, plus
-- the last statement).
CREATE OR REPLACE FUNCTION crmferry_make_record_table(record_table regclass, search_columns text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t text := (SELECT relname FROM pg_class WHERE oid = record_table);
BEGIN
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY owner_all ON %I TO %I USING (true) WITH CHECK (true)',
                   t, current_user);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO crmferry_app
                        USING (organization_id = crmferry_current_org())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO crmferry_app', t);
    EXECUTE format('CREATE TRIGGER organization_exists AFTER INSERT ON %I
                        REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT
                        EXECUTE FUNCTION crmferry_check_record_organizations()', t);
    EXECUTE format('CREATE TRIGGER organization_fixed BEFORE UPDATE OF organization_id ON %I
                        FOR EACH ROW WHEN (NEW.organization_id IS DISTINCT FROM OLD.organization_id)
                        EXECUTE FUNCTION crmferry_refuse_organization_change()', t);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON organizations
                        FOR EACH ROW EXECUTE FUNCTION crmferry_delete_records_of(%L)',
                   'delete_' || t, t);
    EXECUTE format('CREATE INDEX %I ON %I (organization_id, created_at, id)',
                   t || '_org_created_idx', t);
    EXECUTE format('CREATE INDEX %I ON %I USING gin (crmferry_search_document(%s))',
                   t || '_search_idx', t,
                   (SELECT string_agg(quote_ident(c), ', ') FROM unnest(search_columns) AS c));
    INSERT INTO crmferry_record_tables (table_name, search_columns) VALUES (t, search_columns);
    PERFORM crmferry_track_record_changes(record_table);
END $$;

-- Tombstones are kept as long as finished jobs are (CRMFERRY_RETENTION_DAYS): an
-- incremental export reads those of the days since its schedule's last run. The
-- workers prune them, like the jobs.
CREATE FUNCTION crmferry_prune_tombstones(p_days integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (
        DELETE FROM record_tombstones
         WHERE deleted_at < now() - make_interval(days => p_days)
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
REVOKE EXECUTE ON FUNCTION crmferry_prune_tombstones(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_prune_tombstones(integer) TO crmferry_worker;

-- A schedule's incremental export starts where its last successful run's snapshot
-- ended (`changed_since: "last_run"`). Written in the run's own transaction, with
-- "completed"; its row lock makes runs of one schedule take their turn.
CREATE TABLE export_watermarks (
    schedule_id     uuid        PRIMARY KEY REFERENCES schedules (id) ON DELETE CASCADE,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    snapshot        pg_snapshot,
    job_id          uuid,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE export_watermarks ENABLE ROW LEVEL SECURITY;
ALTER TABLE export_watermarks FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON export_watermarks TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY tenant_isolation ON export_watermarks TO crmferry_app
    USING (organization_id = crmferry_current_org())
    WITH CHECK (organization_id = crmferry_current_org());
GRANT SELECT, INSERT, UPDATE ON export_watermarks TO crmferry_app;
