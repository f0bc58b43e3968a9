-- Sign-in throttling that cannot be raced, per e-mail and per client address.
--
-- Before: the failures were counted by one call, the password checked in Python,
-- and the failure recorded by a second call, so thirty concurrent guesses all read
-- "0 failures" and went through a limit of five. Now crmferry_login_begin counts and
-- records in one step under two advisory locks (the address's, then the e-mail's):
-- an attempt it admits is recorded at once, as pending, and counts as a failure
-- until crmferry_login_finish says the password was right.
--
-- The lockout rule: an e-mail with max failures in the window is locked, but only for
-- addresses that failed for it in that window; its owner still gets in from an
-- address with no failures for it (or anyone, after the window). An address with
-- max-address failures in the window, whatever the e-mails, is refused outright.
-- So guessing wrong on purpose cannot lock a victim out for good, and one address
-- cannot spread its guesses over many accounts.
--
-- The application role reaches the table only through these two functions: it can
-- add an attempt only by starting one, and settle only an attempt it was given, once.

CREATE TABLE login_attempts (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email_key  text NOT NULL,
    address    text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    outcome    text NOT NULL DEFAULT 'pending'
               CHECK (outcome IN ('pending', 'failed', 'succeeded'))
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email_key, started_at);
CREATE INDEX login_attempts_address_idx ON login_attempts (address, started_at);
CREATE INDEX login_attempts_started_idx ON login_attempts (started_at);

ALTER TABLE login_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE login_attempts FORCE ROW LEVEL SECURITY;
DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_all ON login_attempts TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;
REVOKE ALL ON login_attempts FROM PUBLIC;

-- Admit (and record) an attempt, or say why not ('address' or 'email'). An admitted
-- attempt returns the user's password hash and first organization (NULLs for an
-- unknown e-mail: the caller still spends the same work on a dummy hash).
CREATE FUNCTION crmferry_login_begin(
    p_email text, p_address text, p_window interval,
    p_max_failures integer, p_max_address_failures integer)
RETURNS TABLE (attempt_id uuid, refused text, user_id uuid, password_hash text,
               organization_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_key text := lower(p_email);
    v_since timestamptz;
    v_address bigint;
    v_email bigint;
    v_email_here bigint;
    v_attempt uuid;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('crmferry-login-address:' || p_address, 0));
    PERFORM pg_advisory_xact_lock(hashtextextended('crmferry-login-email:' || v_key, 0));
    v_since := clock_timestamp() - p_window;
    SELECT count(*) FILTER (WHERE a.address = p_address),
           count(*) FILTER (WHERE a.email_key = v_key),
           count(*) FILTER (WHERE a.email_key = v_key AND a.address = p_address)
      INTO v_address, v_email, v_email_here
      FROM login_attempts a
     WHERE (a.address = p_address OR a.email_key = v_key)
       AND a.started_at > v_since AND a.outcome <> 'succeeded';
    IF v_address >= p_max_address_failures THEN
        RETURN QUERY SELECT NULL::uuid, 'address'::text, NULL::uuid, NULL::text, NULL::uuid;
        RETURN;
    END IF;
    IF v_email >= p_max_failures AND v_email_here > 0 THEN
        RETURN QUERY SELECT NULL::uuid, 'email'::text, NULL::uuid, NULL::text, NULL::uuid;
        RETURN;
    END IF;
    DELETE FROM login_attempts
     WHERE started_at < clock_timestamp() - greatest(p_window, interval '1 day');
    INSERT INTO login_attempts (email_key, address, started_at)
    VALUES (v_key, p_address, clock_timestamp())
    RETURNING id INTO v_attempt;
    RETURN QUERY
        SELECT v_attempt, NULL::text, u.id, u.password_hash,
               (SELECT m.organization_id FROM memberships m
                 WHERE m.user_id = u.id ORDER BY m.created_at LIMIT 1)
          FROM (SELECT 1) one
          LEFT JOIN users u ON lower(u.email) = v_key;
END $$;

-- Settle a pending attempt of the last few minutes, once. A success also clears the
-- failures of that e-mail from that address (its owner's own typing errors); other
-- addresses' failures stay. False when there was no such pending attempt.
CREATE FUNCTION crmferry_login_finish(p_attempt uuid, p_succeeded boolean)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_key text;
    v_address text;
BEGIN
    UPDATE login_attempts
       SET outcome = CASE WHEN p_succeeded THEN 'succeeded' ELSE 'failed' END
     WHERE id = p_attempt AND outcome = 'pending'
       AND started_at > clock_timestamp() - interval '5 minutes'
    RETURNING email_key, address INTO v_key, v_address;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_succeeded THEN
        DELETE FROM login_attempts
         WHERE email_key = v_key AND address = v_address AND outcome = 'failed';
    END IF;
    RETURN true;
END $$;

REVOKE ALL ON FUNCTION crmferry_login_begin(text, text, interval, integer, integer),
    crmferry_login_finish(uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_login_begin(text, text, interval, integer, integer),
    crmferry_login_finish(uuid, boolean) TO crmferry_app;

-- The former functions let the application role reset or add to any e-mail's
-- failures with a bare call; they go, with their table.
DROP FUNCTION crmferry_login_lookup(text, interval);
DROP FUNCTION crmferry_login_failed(text);
DROP FUNCTION crmferry_login_succeeded(text);
DROP TABLE login_failures;
