-- Open event streams re-check their callers when access may have changed: a token
-- revoked or deleted, a membership removed or its role changed, a session ended
-- (sign-out, a password change, a removed member). The payload is the organization
-- only; each web process's hub re-checks that organization's streams and closes the
-- ones whose caller is no longer let in. PostgreSQL folds identical notifications of
-- one transaction into one, so a bulk delete sends one per organization.

CREATE FUNCTION crmferry_access_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('crmferry_access', OLD.organization_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER api_tokens_access_notify
    AFTER UPDATE OF revoked_at OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION crmferry_access_notify();

CREATE TRIGGER memberships_access_notify
    AFTER UPDATE OF role OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION crmferry_access_notify();

CREATE TRIGGER web_sessions_access_notify
    AFTER DELETE ON web_sessions
    FOR EACH ROW EXECUTE FUNCTION crmferry_access_notify();
