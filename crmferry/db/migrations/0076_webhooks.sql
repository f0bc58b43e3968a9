-- Webhook endpoints (Standard Webhooks) and every delivery attempt made to them.
--
-- The first schema's webhooks and webhook_deliveries were never written to: they are
-- replaced. `secret` holds the signing secret encrypted (Fernet, with a key derived
-- from CRMFERRY_SECRET_KEY): the server must be able to sign with it, so it cannot be
-- hashed like a token, but a copy of the database alone does not reveal it. After a
-- rotation the previous secret keeps signing beside the new one until
-- `previous_secret_until`.

DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhooks;

CREATE TABLE webhooks (
    id                    uuid PRIMARY KEY DEFAULT crmferry_new_id(),
    organization_id       uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    url                   text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    events                text[] NOT NULL,
    description           text NOT NULL DEFAULT '',
    secret                text NOT NULL,
    previous_secret       text,
    previous_secret_until timestamptz,
    enabled               boolean NOT NULL DEFAULT true,
    disabled_reason       text,
    disabled_at           timestamptz,
    -- the first failure since the last success: the disable-after window counts from it
    failing_since         timestamptz,
    created_by            uuid,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_org_idx ON webhooks (organization_id, created_at, id);

-- One row per attempt (the API lists them); the delivery's job carries what to send.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT crmferry_new_id(),
    organization_id  uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    webhook_id       uuid NOT NULL REFERENCES webhooks ON DELETE CASCADE,
    job_id           uuid,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    payload          jsonb NOT NULL,
    attempt          integer NOT NULL CHECK (attempt >= 1),
    status           text NOT NULL CHECK (status IN ('succeeded', 'retrying', 'failed')),
    response_status  integer,
    response_excerpt text CHECK (octet_length(response_excerpt) <= 1024),
    error            text,
    duration_ms      integer,
    next_attempt_at  timestamptz,
    replay           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX webhook_deliveries_hook_idx
    ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (webhook_id, event_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO crmferry_app;
-- DELETE: each endpoint's attempts older than the retention are pruned as it is called
GRANT SELECT, INSERT, DELETE ON webhook_deliveries TO crmferry_app;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhooks', 'webhook_deliveries'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON %I TO %I USING (true) WITH CHECK (true)',
                       t, current_user);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO crmferry_app '
                       'USING (organization_id = crmferry_current_org()) '
                       'WITH CHECK (organization_id = crmferry_current_org())', t);
    END LOOP;
END $$;
