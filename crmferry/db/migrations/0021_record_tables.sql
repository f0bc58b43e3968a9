-- A data type is described once, in crmferry/records/: the database no longer keeps
-- its own list of type names, and one function gives a new record table everything
-- the three built-in ones have. A new data type is then its description plus a
-- migration like:
--
--     CREATE TABLE widgets (id uuid PRIMARY KEY DEFAULT crmferry_new_id(),
--                           organization_id uuid NOT NULL, code text NOT NULL, ...,
--                           created_at timestamptz NOT NULL DEFAULT now(),
--                           updated_at timestamptz NOT NULL DEFAULT now(),
--                           import_job_id uuid, UNIQUE (organization_id, code));
--     SELECT crmferry_make_record_table('widgets', ARRAY['code', 'name']);
--
-- (and to take it out again: DROP TRIGGER delete_widgets ON organizations; DROP TABLE
-- widgets; DELETE FROM crmferry_record_tables WHERE table_name = 'widgets').

-- The type names are checked against the registry where requests come in (jobs,
-- schedules, templates, uploads); a second list here would have to follow it.
ALTER TABLE scheduled_jobs DROP CONSTRAINT scheduled_jobs_data_type_check;
ALTER TABLE schedules DROP CONSTRAINT schedules_data_type_check;
ALTER TABLE templates DROP CONSTRAINT templates_data_type_check;

-- The members of each organization by e-mail: what a link to "members" matches (a
-- contact's owner_email). security_invoker: the reader's row-level security applies.
CREATE VIEW organization_members WITH (security_invoker = true) AS
SELECT m.organization_id, m.user_id, u.email
  FROM memberships AS m JOIN users AS u ON u.id = m.user_id;
GRANT SELECT ON organization_members TO crmferry_app;

-- Deleting an organization deletes the rows of the record table named by the trigger.
CREATE FUNCTION crmferry_delete_records_of() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    EXECUTE format('DELETE FROM %I WHERE organization_id = $1', TG_ARGV[0]) USING OLD.id;
    RETURN OLD;
END $$;

-- What every record table has (migrations 0001, 0002, 0011, 0020): row-level security
-- for the application role and the owner, the application role's grants, the
-- once-per-statement organization checks, deletion with its organization, the
-- creation-order index (lists, cursors, exports), and the search index on
-- `search_columns` (the description's search_fields, in the same order), recorded in
-- crmferry_record_tables for crmferry_search_records.
CREATE FUNCTION crmferry_make_record_table(record_table regclass, search_columns text[])
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
END $$;
