-- Tenancy by row-level security.
--
-- The application connects as crmferry_app: no ownership, no BYPASSRLS. Every
-- transaction sets app.current_organization_id (set_config(..., true)); the
-- policies below show it that organization's rows and nothing else. The owner
-- (the role that ran this migration) keeps full access through its own policy,
-- and is the only path that crosses organizations: the SECURITY DEFINER
-- functions it owns (authentication here; claiming jobs in the engine).

GRANT USAGE ON SCHEMA public TO crmferry_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    organizations, users, memberships, api_tokens, web_sessions,
    contacts, inventory, bids, uploads, templates, schedules, scheduled_jobs,
    schedule_occurrences, import_changes, webhooks, webhook_deliveries, audit_log
    TO crmferry_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO crmferry_app;
REVOKE ALL ON login_failures FROM PUBLIC;

-- Every tenant table: RLS enabled and forced, and the owner's own policy.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'organizations', 'users', 'memberships', 'api_tokens', 'web_sessions',
        'contacts', 'inventory', 'bids', 'uploads', 'templates', 'schedules',
        'scheduled_jobs', 'schedule_occurrences', 'import_changes', 'webhooks',
        'webhook_deliveries', 'audit_log', 'login_failures']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON %I TO %I USING (true) WITH CHECK (true)',
                       t, current_user);
    END LOOP;
END $$;

CREATE POLICY tenant_isolation ON organizations TO crmferry_app
    USING (id = crmferry_current_org());

-- A user is visible to the organizations it belongs to.
CREATE POLICY tenant_isolation ON users TO crmferry_app
    USING (EXISTS (SELECT 1 FROM memberships m
                   WHERE m.user_id = users.id
                     AND m.organization_id = crmferry_current_org()));

CREATE POLICY tenant_isolation ON memberships TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON api_tokens TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON web_sessions TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON contacts TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON inventory TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON bids TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON uploads TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON templates TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON schedules TO crmferry_app
    USING (organization_id = crmferry_current_org());
-- the seed's text column, compared as the seed did
CREATE POLICY tenant_isolation ON scheduled_jobs TO crmferry_app
    USING (organization_id = current_setting('app.current_organization_id', true));
CREATE POLICY tenant_isolation ON schedule_occurrences TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON import_changes TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON webhooks TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON webhook_deliveries TO crmferry_app
    USING (organization_id = crmferry_current_org());
CREATE POLICY tenant_isolation ON audit_log TO crmferry_app
    USING (organization_id = crmferry_current_org());

-- Authentication: the only lookups that start without an organization. --------

CREATE FUNCTION crmferry_auth_token(p_hash bytea)
RETURNS TABLE (token_id uuid, user_id uuid, organization_id uuid, role text,
               email text, user_name text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.id, u.id, t.organization_id, m.role, u.email, u.name
      FROM api_tokens t
      JOIN users u ON u.id = t.user_id
      JOIN memberships m ON m.organization_id = t.organization_id AND m.user_id = t.user_id
     WHERE t.token_hash = p_hash AND t.revoked_at IS NULL
$$;

CREATE FUNCTION crmferry_auth_session(p_hash bytea)
RETURNS TABLE (session_id uuid, user_id uuid, organization_id uuid, role text,
               email text, user_name text, csrf_token text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.id, u.id, s.organization_id, m.role, u.email, u.name, s.csrf_token
      FROM web_sessions s
      JOIN users u ON u.id = s.user_id
      JOIN memberships m ON m.organization_id = s.organization_id AND m.user_id = s.user_id
     WHERE s.session_hash = p_hash AND s.expires_at > now()
$$;

-- The user's password hash, first organization, and recent failed attempts.
CREATE FUNCTION crmferry_login_lookup(p_email text, p_window interval)
RETURNS TABLE (user_id uuid, password_hash text, organization_id uuid, recent_failures bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.id, u.password_hash,
           (SELECT m.organization_id FROM memberships m
             WHERE m.user_id = u.id ORDER BY m.created_at LIMIT 1),
           (SELECT count(*) FROM login_failures f
             WHERE f.email_key = lower(p_email) AND f.failed_at > now() - p_window)
      FROM (SELECT lower(p_email) AS email_key) k
      LEFT JOIN users u ON lower(u.email) = k.email_key
$$;

CREATE FUNCTION crmferry_login_failed(p_email text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM login_failures WHERE failed_at < now() - interval '1 day';
    INSERT INTO login_failures (email_key) VALUES (lower(p_email));
$$;

CREATE FUNCTION crmferry_login_succeeded(p_email text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM login_failures WHERE email_key = lower(p_email);
$$;

REVOKE ALL ON FUNCTION crmferry_auth_token(bytea), crmferry_auth_session(bytea),
    crmferry_login_lookup(text, interval), crmferry_login_failed(text),
    crmferry_login_succeeded(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_auth_token(bytea), crmferry_auth_session(bytea),
    crmferry_login_lookup(text, interval), crmferry_login_failed(text),
    crmferry_login_succeeded(text) TO crmferry_app;
