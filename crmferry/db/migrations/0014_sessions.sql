-- Web sessions that end when they should: sign-out deletes the session its cookie
-- names, in whatever state (no organization needed, so it works even when the
-- session no longer authenticates), and a password change ends the user's other
-- sessions in every organization. Both take the credential's SHA-256, so the
-- application role can end only sessions whose secret it was shown.

CREATE FUNCTION crmferry_end_session(p_hash bytea) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH ended AS (DELETE FROM web_sessions WHERE session_hash = p_hash RETURNING 1)
    SELECT count(*) > 0 FROM ended
$$;

-- Set the password of the user a live session or API token belongs to, and end
-- every other session of that user; the number of sessions ended.
CREATE FUNCTION crmferry_change_password(p_credential bytea, p_password_hash text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_user uuid;
    v_ended integer;
BEGIN
    SELECT s.user_id INTO v_user
      FROM web_sessions s WHERE s.session_hash = p_credential AND s.expires_at > now();
    IF v_user IS NULL THEN
        SELECT t.user_id INTO v_user
          FROM api_tokens t WHERE t.token_hash = p_credential AND t.revoked_at IS NULL;
    END IF;
    IF v_user IS NULL THEN
        RAISE EXCEPTION 'no live session or token with this hash'
            USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    UPDATE users SET password_hash = p_password_hash WHERE id = v_user;
    DELETE FROM web_sessions WHERE user_id = v_user AND session_hash <> p_credential;
    GET DIAGNOSTICS v_ended = ROW_COUNT;
    RETURN v_ended;
END $$;

REVOKE ALL ON FUNCTION crmferry_end_session(bytea), crmferry_change_password(bytea, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_end_session(bytea), crmferry_change_password(bytea, text)
    TO crmferry_app;
