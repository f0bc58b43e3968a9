-- CRM Ferry schema: tenancy, accounts, records, files, jobs, schedules, logs.
-- Runs as the owner role. The application role (:app_role, created by the
-- runner) owns nothing and reaches tenant rows only through RLS policies.


CREATE FUNCTION crmferry_current_org() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('app.current_organization_id', true), '')::uuid
$$;

-- Accounts --------------------------------------------------------------------

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency    char(3) NOT NULL DEFAULT 'USD',
    timezone    text NOT NULL DEFAULT 'UTC',
    notify_emails text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    name          text,
    password_hash text,
    timezone      text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE api_tokens (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    name            text NOT NULL DEFAULT '',
    token_hash      bytea NOT NULL UNIQUE,
    prefix          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_tokens_org_idx ON api_tokens (organization_id);

CREATE TABLE web_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    session_hash    bytea NOT NULL UNIQUE,
    csrf_token      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX web_sessions_org_idx ON web_sessions (organization_id);

-- Failed logins, per lower(email); read and written only through the
-- SECURITY DEFINER functions below, never by the application role directly.
CREATE TABLE login_failures (
    email_key    text NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_idx ON login_failures (email_key, failed_at);

-- Records ---------------------------------------------------------------------

CREATE TABLE contacts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    name            text NOT NULL,
    first_name      text,
    last_name       text,
    email           text,
    phone           text,
    company         text,
    title           text,
    address         text,
    city            text,
    state           text,
    postal_code     text,
    country         text,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'inactive', 'lead', 'prospect', 'customer')),
    notes           text,
    owner_email     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    import_job_id   uuid,
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX contacts_email_key ON contacts (organization_id, lower(email));
CREATE INDEX contacts_org_created_idx ON contacts (organization_id, created_at, id);

CREATE TABLE inventory (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id   uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    sku               text NOT NULL,
    name              text NOT NULL,
    description       text,
    category          text,
    quantity          integer NOT NULL DEFAULT 0,
    quantity_on_order integer,
    unit_price        numeric(12, 2),
    cost              numeric(12, 2),
    unit_of_measure   text NOT NULL DEFAULT 'ea',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    import_job_id     uuid,
    UNIQUE (organization_id, sku)
);
CREATE INDEX inventory_org_created_idx ON inventory (organization_id, created_at, id);

CREATE TABLE bids (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    bid_number      text NOT NULL,
    title           text NOT NULL,
    contact_id      uuid,
    contact_email   text,
    amount          numeric(12, 2) NOT NULL,
    currency        char(3) NOT NULL DEFAULT 'USD',
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('draft', 'pending', 'sent', 'submitted', 'accepted',
                                      'rejected', 'expired')),
    valid_until     date,
    description     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    import_job_id   uuid,
    UNIQUE (organization_id, bid_number),
    -- same-organization link: the pair must exist in contacts
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id)
        ON DELETE SET NULL (contact_id)
);
CREATE INDEX bids_contact_idx ON bids (organization_id, contact_id);
CREATE INDEX bids_org_created_idx ON bids (organization_id, created_at, id);

-- Files -----------------------------------------------------------------------

CREATE TABLE uploads (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    created_by      uuid NOT NULL REFERENCES users,
    file_name       text NOT NULL,
    size_bytes      bigint NOT NULL,
    sha256          text NOT NULL,
    storage_path    text NOT NULL,
    format          text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    encoding        text,
    delimiter       text,
    headers         jsonb NOT NULL DEFAULT '[]',
    row_estimate    bigint,
    data_type       text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_org_idx ON uploads (organization_id, created_at);

-- Templates and schedules -------------------------------------------------------

CREATE TABLE templates (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    created_by      uuid REFERENCES users ON DELETE SET NULL,
    name            text NOT NULL,
    job_type        text NOT NULL CHECK (job_type IN ('import', 'export')),
    data_type       text NOT NULL CHECK (data_type IN ('contacts', 'inventory', 'bids')),
    mapping         jsonb,
    options         jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, job_type, name)
);

CREATE TABLE schedules (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    created_by      uuid NOT NULL REFERENCES users,
    name            text NOT NULL,
    job_type        text NOT NULL CHECK (job_type IN ('import', 'export')),
    data_type       text NOT NULL CHECK (data_type IN ('contacts', 'inventory', 'bids')),
    options         jsonb NOT NULL DEFAULT '{}',
    mapping         jsonb,
    source          jsonb,
    template_id     uuid,
    cron            text NOT NULL,
    timezone        text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    next_run_at     timestamptz,
    last_run_at     timestamptz,
    last_job_id     uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- the scheduler looks for enabled schedules that are due
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled;

-- Jobs --------------------------------------------------------------------------

-- The seed's table, kept as a compatible superset: its columns, their types
-- and its status values stay as they were; the engine's columns are added.
CREATE TABLE scheduled_jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  text NOT NULL,
    created_by       uuid NOT NULL,
    job_type         text NOT NULL CHECK (job_type IN ('import', 'export', 'revert')),
    data_type        text NOT NULL CHECK (data_type IN ('contacts', 'inventory', 'bids')),
    scheduled_time   timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'completed', 'failed',
                                       'cancelled')),
    created_at       timestamptz DEFAULT now(),
    completed_at     timestamptz,
    error_message    text,
    record_count     integer,
    file_name        text,
    file_data        jsonb,
    creator_name     text,
    -- engine columns
    priority         integer NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 3,
    started_at       timestamptz,
    worker_id        text,
    heartbeat_at     timestamptz,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    progress_done    bigint NOT NULL DEFAULT 0,
    progress_total   bigint,
    counts           jsonb NOT NULL DEFAULT
        '{"inserted": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}',
    options          jsonb NOT NULL DEFAULT '{}',
    mapping          jsonb,
    timezone         text,
    notify           jsonb,
    upload_id        uuid,
    template_id      uuid,
    schedule_id      uuid,
    occurrence_at    timestamptz,
    retry_of         uuid,
    reverts_job_id   uuid,
    result_path      text,
    result_size      bigint,
    error_report_path text,
    attempt_history  jsonb NOT NULL DEFAULT '[]',
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (organization_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
);
-- the seed's four indexes
CREATE INDEX idx_scheduled_jobs_org_id ON scheduled_jobs (organization_id);
CREATE INDEX idx_scheduled_jobs_status ON scheduled_jobs (status);
CREATE INDEX idx_scheduled_jobs_scheduled_time ON scheduled_jobs (scheduled_time);
CREATE INDEX idx_scheduled_jobs_org_status_time
    ON scheduled_jobs (organization_id, status, scheduled_time);
-- the claim: due pending jobs in priority order
CREATE INDEX scheduled_jobs_claim_idx
    ON scheduled_jobs (priority DESC, scheduled_time, id) WHERE status = 'pending';
-- lease expiry sweep
CREATE INDEX scheduled_jobs_lease_idx
    ON scheduled_jobs (lease_expires_at) WHERE status = 'processing';
-- the job list, newest first, keyset-paged
CREATE INDEX scheduled_jobs_org_list_idx
    ON scheduled_jobs (organization_id, created_at DESC, id DESC);
-- retention pruning
CREATE INDEX scheduled_jobs_finished_idx
    ON scheduled_jobs (completed_at) WHERE status IN ('completed', 'failed', 'cancelled');
ALTER TABLE scheduled_jobs SET (autovacuum_vacuum_scale_factor = 0.02,
                                autovacuum_analyze_scale_factor = 0.02);

-- One job per schedule occurrence, however many schedulers race.
CREATE TABLE schedule_occurrences (
    schedule_id     uuid NOT NULL REFERENCES schedules ON DELETE CASCADE,
    fire_at         timestamptz NOT NULL,
    organization_id uuid NOT NULL,
    job_id          uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, fire_at)
);

-- Import change log (revert) ------------------------------------------------------

CREATE TABLE import_changes (
    id              bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    job_id          uuid NOT NULL,
    data_type       text NOT NULL,
    record_id       uuid NOT NULL,
    action          text NOT NULL CHECK (action IN ('insert', 'update')),
    previous        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_changes_job_idx ON import_changes (job_id, id);
CREATE INDEX import_changes_record_idx ON import_changes (organization_id, data_type, record_id);

-- Webhooks ---------------------------------------------------------------------

CREATE TABLE webhooks (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    url             text NOT NULL,
    events          text[] NOT NULL,
    secret          text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    webhook_id      uuid NOT NULL REFERENCES webhooks ON DELETE CASCADE,
    job_id          uuid,
    event           text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    response_status integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_due_idx
    ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (webhook_id, created_at DESC);

-- Audit log ----------------------------------------------------------------------

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    user_id         uuid,
    action          text NOT NULL,
    target_type     text,
    target_id       text,
    details         jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_org_idx ON audit_log (organization_id, created_at DESC);
