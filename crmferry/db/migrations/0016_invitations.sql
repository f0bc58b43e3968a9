-- Invitations: an admin adds a member by inviting an e-mail address; the invitee
-- accepts with a one-time link (7 days). The admin learns nothing of the address
-- (whether it has an account, under which name, in which organizations) and sets no
-- password: a new user chooses theirs on the invitation page, an existing one signs
-- in with theirs. The link's token is kept as a SHA-256 only.

CREATE TABLE invitations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    email           text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    token_hash      bytea NOT NULL UNIQUE,
    invited_by      uuid REFERENCES users ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
    accepted_by     uuid REFERENCES users ON DELETE SET NULL,
    finished_at     timestamptz
);
-- One pending invitation per address and organization: concurrent invitations of
-- the same address meet here, and all but one find it taken.
CREATE UNIQUE INDEX invitations_pending_key
    ON invitations (organization_id, lower(email)) WHERE status = 'pending';
CREATE INDEX invitations_org_idx ON invitations (organization_id, created_at);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_all ON invitations TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;
CREATE POLICY tenant_isolation ON invitations TO crmferry_app
    USING (organization_id = crmferry_current_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON invitations TO crmferry_app;

-- The invitation a link names, while it can be accepted: what the page shows the
-- invitee (the inviting organization's name, the address, the role) and which form
-- (`account`: 'none', 'password', or 'no_password' for an account that cannot sign in).
CREATE FUNCTION crmferry_invitation(p_token_hash bytea)
RETURNS TABLE (invitation_id uuid, organization_id uuid, organization_name text,
               email text, role text, expires_at timestamptz, account text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT i.id, i.organization_id, o.name, i.email, i.role, i.expires_at,
           CASE WHEN u.id IS NULL THEN 'none'
                WHEN u.password_hash IS NULL THEN 'no_password'
                ELSE 'password' END
      FROM invitations i
      JOIN organizations o ON o.id = i.organization_id
      LEFT JOIN users u ON lower(u.email) = lower(i.email)
     WHERE i.token_hash = p_token_hash AND i.status = 'pending' AND i.expires_at > now()
$$;

-- Accept for the existing user `p_user` (whose password the caller has just checked):
-- the user must own the invited address. The organization joined, or NULL when the
-- link is no longer valid or is not this user's.
CREATE FUNCTION crmferry_accept_invitation(p_token_hash bytea, p_user uuid)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_invitation invitations%ROWTYPE;
BEGIN
    SELECT i.* INTO v_invitation
      FROM invitations i JOIN users u ON lower(u.email) = lower(i.email)
     WHERE i.token_hash = p_token_hash AND i.status = 'pending' AND i.expires_at > now()
       AND u.id = p_user
       FOR UPDATE OF i;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO memberships (organization_id, user_id, role)
    VALUES (v_invitation.organization_id, p_user, v_invitation.role)
    ON CONFLICT (organization_id, user_id) DO NOTHING;
    UPDATE invitations SET status = 'accepted', accepted_by = p_user, finished_at = now()
     WHERE id = v_invitation.id;
    RETURN v_invitation.organization_id;
END $$;

-- Accept as a new user with the name and password (hash) they chose. NULLs when the
-- link is no longer valid; raises unique_violation when the address has an account
-- (it must sign in instead).
CREATE FUNCTION crmferry_accept_invitation_as_new_user(
    p_token_hash bytea, p_name text, p_password_hash text)
RETURNS TABLE (user_id uuid, organization_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_invitation invitations%ROWTYPE;
    v_user uuid;
BEGIN
    SELECT * INTO v_invitation FROM invitations
     WHERE token_hash = p_token_hash AND status = 'pending' AND expires_at > now()
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT NULL::uuid, NULL::uuid;
        RETURN;
    END IF;
    INSERT INTO users (email, name, password_hash)
    VALUES (v_invitation.email, p_name, p_password_hash)
    ON CONFLICT (lower(email)) DO NOTHING
    RETURNING id INTO v_user;
    IF v_user IS NULL THEN
        RAISE EXCEPTION 'the invited address already has an account'
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO memberships (organization_id, user_id, role)
    VALUES (v_invitation.organization_id, v_user, v_invitation.role);
    UPDATE invitations SET status = 'accepted', accepted_by = v_user, finished_at = now()
     WHERE id = v_invitation.id;
    RETURN QUERY SELECT v_user, v_invitation.organization_id;
END $$;

REVOKE ALL ON FUNCTION crmferry_invitation(bytea), crmferry_accept_invitation(bytea, uuid),
    crmferry_accept_invitation_as_new_user(bytea, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_invitation(bytea), crmferry_accept_invitation(bytea, uuid),
    crmferry_accept_invitation_as_new_user(bytea, text, text) TO crmferry_app;
