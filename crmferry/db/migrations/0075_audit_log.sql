-- The audit log: who did what, when, for the organization's admins. Append-only for
-- the application roles (INSERT and SELECT, no UPDATE or DELETE), so a member who can
-- write cannot rewrite what was recorded. The actor's e-mail and name are copied in:
-- the entry still says who it was after that member is removed.
--
-- The first schema's audit_log (bigserial ids, no actor copy) was never written to: it
-- is replaced.
DROP TABLE IF EXISTS audit_log;

CREATE TABLE audit_log (
    id              uuid PRIMARY KEY DEFAULT crmferry_new_id(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id        uuid,
    actor_email     text,
    actor_name      text,
    action          text NOT NULL CHECK (action ~ '^[a-z_-]+\.[a-z_-]+$'),
    target_type     text,
    target_id       text,
    details         jsonb NOT NULL DEFAULT '{}'
);
-- the page reads newest first, optionally by action or by actor
CREATE INDEX audit_log_org_at_idx ON audit_log (organization_id, at DESC, id DESC);
CREATE INDEX audit_log_org_action_idx ON audit_log (organization_id, action, at DESC, id DESC);
CREATE INDEX audit_log_org_actor_idx ON audit_log (organization_id, actor_id, at DESC, id DESC);

GRANT SELECT, INSERT ON audit_log TO crmferry_app;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_all ON audit_log TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;
CREATE POLICY tenant_isolation ON audit_log TO crmferry_app
    USING (organization_id = crmferry_current_org())
    WITH CHECK (organization_id = crmferry_current_org());
