-- A token's last use, which the Settings page and GET /api/v1/tokens show, was never
-- written: every token read "never". Authentication now records it, to the minute: a
-- token used again within a minute of the time stored is not written again, so a
-- client that sends many requests costs one UPDATE a minute, not one per request. A
-- row another request is writing at that moment is skipped (SKIP LOCKED): that request
-- records the same minute, and this one does not wait behind it.
CREATE OR REPLACE FUNCTION crmferry_auth_token(p_hash bytea)
RETURNS TABLE (token_id uuid, user_id uuid, organization_id uuid, role text,
               email text, user_name text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH found AS (
        SELECT t.id, u.id AS user_id, t.organization_id, m.role, u.email, u.name,
               t.last_used_at
          FROM api_tokens t
          JOIN users u ON u.id = t.user_id
          JOIN memberships m ON m.organization_id = t.organization_id AND m.user_id = t.user_id
         WHERE t.token_hash = p_hash AND t.revoked_at IS NULL
    ), used AS (
        UPDATE api_tokens SET last_used_at = now()
         WHERE id IN (SELECT t.id FROM api_tokens t JOIN found f ON f.id = t.id
                       WHERE f.last_used_at IS NULL
                          OR f.last_used_at < now() - interval '1 minute'
                         FOR UPDATE OF t SKIP LOCKED)
    )
    SELECT id, user_id, organization_id, role, email, name FROM found
$$;
